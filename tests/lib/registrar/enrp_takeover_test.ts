/**
 * ENRP takeover (RFC 5353 §3.5) at a real registrar, with scripted peers playing the dead
 * registrar and the other survivors: detection by a lost connection or by silence, arbitration
 * (the lower server ID wins, DECISIONS.md), a target that turns out alive, peers that never ack,
 * and a registrar that learns it was taken over while alive.
 */
import assert from "node:assert/strict";
import type { Registrar } from "../../../lib/registrar/mod.ts";
import { type EnrpMessage, EnrpMessageType } from "../../../lib/wire/mod.ts";
import { connectAsap, handle, poolElement, registration } from "./_asap_client.ts";
import {
  CHANGES,
  enrpAddress,
  nextEnrpEvent,
  QUIET_ENRP,
  QUIET_WAIT_MS,
  startPeer,
  synchronized,
  until,
} from "./_enrp_helpers.ts";
import { ScriptedPeer } from "./_enrp_peer.ts";

/** Connects `peer` to `registrar`, introduces it and announces the PEs it owns. */
async function join(registrar: Registrar, peer: ScriptedPeer, pool: string, ids: number[]) {
  const connection = await peer.connect(registrar.enrp!.addr.port);
  const updates = ids.map((id) => peer.own(handle(pool), poolElement(id)));
  await peer.send(connection, peer.presence());
  for (const update of updates) await peer.send(connection, update);
  await until(
    [registrar],
    ["pe-added"],
    () => registrar.handlespace.countOwnedBy(peer.serverId) === ids.length,
    2000,
    `the PEs of ${peer.serverId}`,
  );
  return connection;
}

/** Counts "pe-removed" events of `registrar` from now on. */
function countRemovals(registrar: Registrar): { readonly count: number } {
  const counter = { count: 0 };
  registrar.addEventListener("pe-removed", () => counter.count++);
  return counter;
}

function targets(id: number) {
  return (message: EnrpMessage) => "targetServerId" in message && message.targetServerId === id;
}

Deno.test("EnrpPeering takes over a dead peer's PEs: none leaves the handlespace", async () => {
  await using a = startPeer(0x20000001);
  await synchronized(a);
  const x = new ScriptedPeer(0x20000099);
  await join(a, x, "Survivors", [1, 2, 3]);
  const removals = countRemovals(a);
  const takeover = nextEnrpEvent(a, "takeover");
  const down = nextEnrpEvent(a, "peer-down");
  const killedAt = performance.now();
  await x.kill();
  assert.equal((await down).reason, "no-response");
  const detail = await takeover;
  assert.ok(performance.now() - killedAt < 2000);
  assert.deepEqual(detail, {
    targetServerId: x.serverId,
    homeServerId: a.serverId,
    poolElements: 3,
    local: true,
  });
  assert.equal(removals.count, 0);
  assert.equal(a.handlespace.countOwnedBy(a.serverId), 3);
  assert.equal(a.select("Survivors", 3).length, 3, "still selected");
  assert.equal(a.enrp!.peers()[0]?.state, "dead");
  assert.equal(a.enrp!.isRegistrarGone(x.serverId), true);
});

Deno.test("EnrpPeering yields to a concurrent takeover by a lower server ID and acks it", async () => {
  await using a = startPeer(0x20000020);
  await synchronized(a);
  await using c = new ScriptedPeer(0x20000010);
  const cConnection = await join(a, c, "Other", []);
  const x = new ScriptedPeer(0x20000030);
  await join(a, x, "Contested", [1, 2]);
  const removals = countRemovals(a);
  const takeover = nextEnrpEvent(a, "takeover");
  await x.kill();
  await c.next(EnrpMessageType.initTakeover, 2000, targets(x.serverId));
  // C started its own takeover at the same time: it has the lower ID and wins.
  await c.send(cConnection, {
    type: EnrpMessageType.initTakeover,
    receiverServerId: 0,
    targetServerId: x.serverId,
  });
  await c.next(EnrpMessageType.initTakeoverAck, 2000, targets(x.serverId));
  await c.send(cConnection, {
    type: EnrpMessageType.takeoverServer,
    receiverServerId: 0,
    targetServerId: x.serverId,
  });
  assert.deepEqual(await takeover, {
    targetServerId: x.serverId,
    homeServerId: c.serverId,
    poolElements: 2,
    local: false,
  });
  assert.equal(a.handlespace.countOwnedBy(c.serverId), 2);
  assert.equal(a.handlespace.countOwnedBy(a.serverId), 0);
  assert.equal(removals.count, 0);
});

Deno.test("EnrpPeering ignores a concurrent takeover by a higher server ID and completes its own", async () => {
  await using a = startPeer(0x20000020);
  await synchronized(a);
  await using c = new ScriptedPeer(0x20000030);
  const cConnection = await join(a, c, "Other", []);
  const x = new ScriptedPeer(0x20000040);
  await join(a, x, "Contested", [1, 2]);
  const takeover = nextEnrpEvent(a, "takeover");
  await x.kill();
  const init = await c.next(EnrpMessageType.initTakeover, 2000, targets(x.serverId));
  await c.send(cConnection, {
    type: EnrpMessageType.initTakeover,
    receiverServerId: 0,
    targetServerId: x.serverId,
  });
  await c.send(cConnection, {
    type: EnrpMessageType.initTakeoverAck,
    receiverServerId: a.serverId,
    targetServerId: x.serverId,
  });
  assert.equal((await takeover).local, true);
  await c.next(EnrpMessageType.takeoverServer, 2000, targets(x.serverId));
  assert.equal(c.has(EnrpMessageType.initTakeoverAck), false, "C's attempt got no ack");
  assert.equal(init.message.senderServerId, a.serverId);
  assert.equal(a.handlespace.countOwnedBy(a.serverId), 2);
});

Deno.test("EnrpPeering completes a takeover at its expiry and takes over the peers that never acked", async () => {
  await using a = startPeer(0x20000001);
  await synchronized(a);
  const c = new ScriptedPeer(0x20000002);
  await join(a, c, "Mute", [7]);
  const x = new ScriptedPeer(0x20000003);
  await join(a, x, "Dead", [1, 2]);
  const removals = countRemovals(a);
  const first = nextEnrpEvent(a, "takeover", 3000, (d) => d.targetServerId === x.serverId);
  const second = nextEnrpEvent(a, "takeover", 3000, (d) => d.targetServerId === c.serverId);
  const muteDown = nextEnrpEvent(a, "peer-down", 3000, (d) => d.serverId === c.serverId);
  await x.kill();
  await c.next(EnrpMessageType.initTakeover, 2000, targets(x.serverId));
  assert.equal((await first).poolElements, 2);
  assert.equal((await muteDown).reason, "no-takeover-ack");
  assert.equal((await second).poolElements, 1);
  assert.equal(a.handlespace.countOwnedBy(a.serverId), 3);
  assert.equal(removals.count, 0);
  await c.kill();
});

Deno.test("EnrpPeering stops a takeover when the target speaks again", async () => {
  await using a = startPeer(0x20000001);
  await synchronized(a);
  await using c = new ScriptedPeer(0x20000002);
  await join(a, c, "Other", []);
  await using x = new ScriptedPeer(0x20000003);
  await join(a, x, "Hung", [1, 2]);
  let takeovers = 0;
  a.enrp!.addEventListener("takeover", () => takeovers++);
  // X hangs: it keeps its connections but answers nothing; C never acks, so the takeover waits.
  x.answerProbes = false;
  await c.next(EnrpMessageType.initTakeover, 3000, targets(x.serverId));
  const up = nextEnrpEvent(a, "peer-up", 2000, (d) => d.serverId === x.serverId);
  const connection = await x.connect(a.enrp!.addr.port);
  x.answerProbes = true;
  await x.send(connection, x.presence());
  await up;
  assert.equal(a.enrp!.peers().find((p) => p.serverId === x.serverId)?.state, "up");
  // Four Presences of A's later (its greeting on a new connection, then heartbeats 100 ms apart),
  // past the takeover expiry (300 ms), nothing moved; those X got while it hung do not count.
  x.discard(EnrpMessageType.presence);
  for (let i = 0; i < 4; i++) {
    await x.next(EnrpMessageType.presence, 2000, (m) => m.senderServerId === a.serverId);
  }
  assert.equal(takeovers, 0);
  assert.equal(a.handlespace.countOwnedBy(x.serverId), 2);
});

Deno.test("EnrpPeering answers an Init Takeover that names it with Presence to every peer", async () => {
  // Heartbeats and probes a minute apart: every Presence C gets within the test is an answer.
  await using a = startPeer(0x20000001, QUIET_ENRP);
  await synchronized(a);
  await using c = new ScriptedPeer(0x20000002);
  const connection = await join(a, c, "Other", []);
  // A greets C at once on a connection of its own (the reply goes there); flushing it leaves no
  // earlier Presence of A's on its way to be taken for the reply.
  const greeting = await c.next(EnrpMessageType.presence, QUIET_WAIT_MS);
  await c.flush(greeting.connection, QUIET_WAIT_MS);
  c.discard(EnrpMessageType.presence);
  await c.send(connection, {
    type: EnrpMessageType.initTakeover,
    receiverServerId: a.serverId,
    targetServerId: a.serverId,
  });
  const presence = await c.next(EnrpMessageType.presence, QUIET_WAIT_MS);
  assert.equal(presence.message.senderServerId, a.serverId);
  assert.equal(presence.connection, greeting.connection);
  // An ack would have come on C's connection before the answer to this List Request.
  await c.flush(connection, QUIET_WAIT_MS);
  assert.equal(c.has(EnrpMessageType.initTakeoverAck), false);
});

Deno.test("EnrpPeering reclaims its PEs with ADD_PE when a peer took it over while it was alive", async () => {
  await using a = startPeer(0x20000001);
  await synchronized(a);
  a.registerLocal("Mine", poolElement(1));
  a.registerLocal("Mine", poolElement(2));
  await using w = new ScriptedPeer(0x20000002);
  const connection = await join(a, w, "Other", []);
  await w.send(connection, {
    type: EnrpMessageType.takeoverServer,
    receiverServerId: 0,
    targetServerId: a.serverId,
  });
  const reclaimed = new Set<number>();
  for (let i = 0; i < 2; i++) {
    const { message } = await w.next(EnrpMessageType.handleUpdate);
    assert.ok(message.type === EnrpMessageType.handleUpdate);
    assert.equal(message.poolElement.homeRegistrarId, a.serverId);
    reclaimed.add(message.poolElement.identifier);
  }
  assert.deepEqual([...reclaimed].sort(), [1, 2]);
  assert.equal(a.handlespace.countOwnedBy(a.serverId), 2);
});

Deno.test("Registrar.shutdown() with enrp announces no removal: a peer takes over its static members and ASAP PEs, which stay selectable", async () => {
  await using a = startPeer(0x20000001);
  const b = startPeer(0x20000002, { peers: [enrpAddress(a)] });
  await synchronized(b);
  assert.equal(b.registerLocal("Static", poolElement(1)).ok, true);
  await using client = await connectAsap(b.addr.port);
  await client.request(registration("Asap", poolElement(2)));
  await until([a], CHANGES, () => a.handlespace.countOwnedBy(b.serverId) === 2, 2000, "B's PEs");
  const removals = countRemovals(a);
  const takeover = nextEnrpEvent(a, "takeover");
  await b.shutdown();
  assert.equal((await takeover).poolElements, 2);
  assert.equal(removals.count, 0);
  assert.equal(a.select("Static", 1)[0]?.identifier, 1);
  assert.equal(a.select("Asap", 1)[0]?.identifier, 2);
  assert.equal(a.handlespace.find(handle("Static"), 1)?.homeRegistrarId, a.serverId);
});
