import assert from "node:assert/strict";
import { ConnectGate, PeConnectFailedError } from "../../proxy/control_session_gate.ts";

Deno.test("ConnectGate lets maxPerPe turns through per pool element and passes a released turn on", async () => {
  const gate = new ConnectGate(2);
  const a1 = await gate.turn("a:1");
  const a2 = await gate.turn("a:1");
  const b1 = await gate.turn("b:1"); // another pool element is not held up
  let third = false;
  const a3 = gate.turn("a:1").then((turn) => {
    third = true;
    return turn;
  });
  await Promise.resolve();
  assert.equal(third, false);
  a1(true);
  const turn = await a3;
  assert.equal(third, true);
  a1(true); // releasing twice is a no-op
  for (const release of [a2, turn, b1]) release(true);
  assert.equal(gate.size, 0);
});

Deno.test("ConnectGate rejects the turns queued for a pool element when a connect to it fails", async () => {
  const gate = new ConnectGate(1);
  const first = await gate.turn("a:1");
  const queued = [gate.turn("a:1"), gate.turn("a:1")];
  first(false);
  for (const turn of queued) await assert.rejects(turn, PeConnectFailedError);
  assert.equal(gate.size, 0);
  // Later connects are let through again.
  (await gate.turn("a:1"))(true);
  assert.throws(() => new ConnectGate(0), RangeError);
});
