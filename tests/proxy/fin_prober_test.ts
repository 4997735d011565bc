/** FinProber: refused / alive verdicts and one probe at a time per pool element. */
import assert from "node:assert/strict";
import type { Connector } from "../../proxy/connector.ts";
import { Deadlines } from "../../proxy/deadlines.ts";
import { FinProber } from "../../proxy/fin_prober.ts";
import { withDeadline } from "../_support/deadline.ts";
import { refusedPort, startTestServer, testMember } from "../_support/proxy_harness.ts";

const SETTINGS = { connectTimeoutMs: 1_000, finProbeSettleMs: 5 };

Deno.test("FinProber.isDead() is true when the probe is refused and false when someone serves", async () => {
  await using server = startTestServer(async (conn) => {
    await conn.read(new Uint8Array(1));
  });
  const prober = new FinProber(Deno.connect, new Deadlines());
  assert.equal(await prober.isDead(testMember(1, refusedPort()), SETTINGS), true);
  assert.equal(await prober.isDead(testMember(2, server.port), SETTINGS), false);
});

Deno.test("FinProber.isDead() is true when the connect times out", async () => {
  const silent: Connector = (options) =>
    new Promise((_, reject) =>
      options.signal.addEventListener("abort", () => reject(options.signal.reason), { once: true })
    );
  const prober = new FinProber(silent, new Deadlines());
  assert.equal(await prober.isDead(testMember(1, 9), { ...SETTINGS, connectTimeoutMs: 20 }), true);
});

Deno.test("FinProber.isDead() answers the FINs that arrive during a probe with one later probe", async () => {
  await using server = startTestServer(async (conn) => {
    await conn.read(new Uint8Array(1));
  });
  // Each connect waits for its gate to open; `connects` resolves as connects are asked for.
  const gates: (() => void)[] = [];
  let asked = Promise.withResolvers<void>();
  const gated: Connector = (options) => {
    const gate = Promise.withResolvers<void>();
    gates.push(gate.resolve);
    asked.resolve();
    return gate.promise.then(() => Deno.connect(options));
  };
  const nextConnect = async () => {
    await withDeadline(asked.promise, 5_000, "a probe connect");
    asked = Promise.withResolvers<void>();
  };
  const prober = new FinProber(gated, new Deadlines());
  const member = testMember(1, server.port);
  const first = prober.isDead(member, SETTINGS);
  await nextConnect();
  // These two arrive after the first probe started, so it cannot vouch for them.
  const second = prober.isDead(member, SETTINGS);
  const third = prober.isDead(member, SETTINGS);
  gates[0]?.();
  assert.equal(await first, false);
  // One queued probe starts once the first one is over, for both of them.
  await nextConnect();
  gates[1]?.();
  assert.deepEqual(await Promise.all([second, third]), [false, false]);
  assert.equal(gates.length, 2);
  // Another pool element is probed on its own, at once.
  const other = prober.isDead(testMember(2, refusedPort()), SETTINGS);
  await nextConnect();
  gates[2]?.();
  assert.equal(await other, true);
  assert.equal(gates.length, 3);
});
