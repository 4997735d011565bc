/**
 * ENRP peering against peers that misbehave: malformed and unknown messages are answered with
 * ENRP Error (RFC 5353 §3.7), a connection that breaks framing is closed, and messages from
 * unknown server IDs, from non-owners or claiming another server's ID change nothing.
 */
import assert from "node:assert/strict";
import { EnrpMessageType, ErrorCauseCode, UpdateAction } from "../../../lib/wire/mod.ts";
import { handle, poolElement } from "./_asap_client.ts";
import { withDeadline } from "../../_support/deadline.ts";
import { startPeer, synchronized, until } from "./_enrp_helpers.ts";
import { type Outgoing, ScriptedPeer } from "./_enrp_peer.ts";

/** A Handle Update of PE `id` in `pool`, as home `home` would send it. */
function update(action: UpdateAction, pool: string, id: number, home: number): Outgoing {
  return {
    type: EnrpMessageType.handleUpdate,
    receiverServerId: 0,
    takeoverSuggested: false,
    action,
    poolHandle: handle(pool),
    poolElement: { ...poolElement(id), homeRegistrarId: home },
  };
}

Deno.test("EnrpPeering keeps its handlespace through garbage, unknown server IDs, non-owners and spoofed IDs", async () => {
  await using a = startPeer(0x30000001);
  await synchronized(a);
  a.registerLocal("Home", poolElement(1));
  a.registerLocal("Home", poolElement(2));
  await using p = new ScriptedPeer(0x30000002);
  const pConnection = await p.connect(a.enrp!.addr.port);
  const pAdd = p.own(handle("Peer"), poolElement(3));
  await p.send(pConnection, p.presence());
  await p.send(pConnection, pAdd);
  await using q = new ScriptedPeer(0x30000003);
  const qConnection = await q.connect(a.enrp!.addr.port);
  await q.send(qConnection, q.presence());
  await until([a], ["pe-added"], () => a.handlespace.elementCount === 3, 2000, "P's PE");
  await until(
    [a.enrp!],
    ["peer-up"],
    () => a.enrp!.peers().filter((peer) => peer.state === "up").length === 2,
    2000,
    "P and Q up",
  );
  // P's first Presence named a PE A did not have yet: A audits P, and that audit's answer must
  // be handled before counting changes. A answers the List Request after it.
  const audit = await p.next(EnrpMessageType.handleTableRequest);
  await p.flush(audit.connection);
  const checksum = a.handlespace.checksum();
  const homes = () => [1, 2].map((id) => a.handlespace.find(handle("Home"), id)?.homeRegistrarId);
  let changes = 0;
  for (const type of ["pe-added", "pe-updated", "pe-removed"]) {
    a.addEventListener(type, () => changes++);
  }

  // A message that decodes badly is answered with an ENRP Error carrying the cause.
  await using stranger = new ScriptedPeer(0x30000077);
  stranger.answerProbes = false; // it never introduces itself
  const raw = await stranger.connect(a.enrp!.addr.port);
  await raw.send(Uint8Array.of(0x01, 0x00, 0x00, 0x0c, 0, 0, 0, 0x77, 0, 0, 0, 0));
  const invalid = await stranger.next(EnrpMessageType.error);
  assert.ok(invalid.message.type === EnrpMessageType.error);
  assert.equal(invalid.message.errorCauses[0]?.code, ErrorCauseCode.invalidValues);
  // An unknown type whose top bits say "report" (RFC 5354 §4) gets Unrecognized Message.
  await raw.send(Uint8Array.of(0x4b, 0x00, 0x00, 0x0c, 0, 0, 0, 0x77, 0, 0, 0, 0));
  const unknown = await stranger.next(EnrpMessageType.error);
  assert.ok(unknown.message.type === EnrpMessageType.error);
  assert.equal(unknown.message.errorCauses[0]?.code, ErrorCauseCode.unrecognizedMessage);

  // An unknown server's Handle Update and takeover change nothing; it is asked who it is.
  await stranger.send(raw, update(UpdateAction.deletePoolElement, "Home", 1, a.serverId));
  const probe = await stranger.next(EnrpMessageType.presence);
  assert.ok(probe.message.type === EnrpMessageType.presence && probe.message.replyRequired);
  await stranger.send(raw, {
    type: EnrpMessageType.takeoverServer,
    receiverServerId: 0,
    targetServerId: p.serverId,
  });
  await stranger.next(EnrpMessageType.presence, 2000, (m) => m.senderServerId === a.serverId);

  // Only a PE's home removes it: DEL_PE from others is ignored.
  await q.send(qConnection, update(UpdateAction.deletePoolElement, "Peer", 3, p.serverId));
  await p.send(pConnection, update(UpdateAction.deletePoolElement, "Home", 1, a.serverId));
  // ADD_PE whose PE names another home than its sender: refused with Invalid Values.
  await p.send(pConnection, update(UpdateAction.addPoolElement, "Home", 1, p.serverId + 5));
  const foreign = await p.next(EnrpMessageType.error);
  assert.ok(foreign.message.type === EnrpMessageType.error);
  assert.equal(foreign.message.errorCauses[0]?.code, ErrorCauseCode.invalidValues);

  // A message claiming P's ID on Q's connection: Rejection due to security considerations.
  await qConnection.send(p.encode(update(UpdateAction.deletePoolElement, "Peer", 3, p.serverId)));
  const spoofed = await q.next(EnrpMessageType.error);
  assert.ok(spoofed.message.type === EnrpMessageType.error);
  assert.equal(
    spoofed.message.errorCauses[0]?.code,
    ErrorCauseCode.rejectionDueToSecurityConsiderations,
  );

  // A Length below 4 breaks framing: the connection is closed.
  await raw.send(Uint8Array.of(0x01, 0x00, 0x00, 0x02));
  await withDeadline(raw.finished, 2000, "A to close the connection");

  // Every message so far was handled in order: a probe answered on each connection proves it
  // (the only Presence A sends on the connections P and Q opened).
  await p.send(pConnection, p.presence(true));
  await p.next(EnrpMessageType.presence, 2000, (_, connection) => connection === pConnection);
  await q.send(qConnection, q.presence(true));
  await q.next(EnrpMessageType.presence, 2000, (_, connection) => connection === qConnection);
  assert.equal(changes, 0);
  assert.equal(a.handlespace.elementCount, 3);
  assert.equal(a.handlespace.checksum(), checksum);
  assert.deepEqual(homes(), [a.serverId, a.serverId]);
  assert.equal(a.handlespace.find(handle("Peer"), 3)?.homeRegistrarId, p.serverId);
  assert.equal(
    a.enrp!.peers().some((peer) => peer.serverId === stranger.serverId),
    false,
    "a server that never sent Presence is no peer",
  );
});
