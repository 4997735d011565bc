/** Deadlines: many timeouts on one timer, never early, cancellable, no timer left behind. */
import assert from "node:assert/strict";
import { Deadlines } from "../../proxy/deadlines.ts";
import { withDeadline } from "../_support/deadline.ts";

const WAIT_MS = 5_000;

Deno.test("Deadlines fire in time order, never before their time, each once", async () => {
  const deadlines = new Deadlines({ tickMs: 5 });
  const start = performance.now();
  const fired: [string, number][] = [];
  const all = Promise.withResolvers<void>();
  const record = (name: string) => () => {
    fired.push([name, performance.now() - start]);
    if (fired.length === 4) all.resolve();
  };
  deadlines.after(60, record("60 ms"));
  deadlines.after(20, record("20 ms, armed after a later one"));
  deadlines.after(20, record("20 ms, same tick"));
  deadlines.after(40, record("40 ms"));
  await withDeadline(all.promise, WAIT_MS, "four deadlines");
  assert.deepEqual(fired.map(([name]) => name), [
    "20 ms, armed after a later one",
    "20 ms, same tick",
    "40 ms",
    "60 ms",
  ]);
  for (const [name, at] of fired) {
    assert.ok(at >= Number.parseInt(name), `${name} fired after ${at.toFixed(1)} ms`);
  }
  assert.equal(deadlines.size, 0);
});

Deno.test("Deadlines.cancel() disarms one deadline, and the last cancel stops the timer", async () => {
  const deadlines = new Deadlines({ tickMs: 5 });
  let cancelledFired = false;
  const cancelled = deadlines.after(10, () => cancelledFired = true);
  const kept = Promise.withResolvers<void>();
  deadlines.after(30, () => kept.resolve());
  cancelled.cancel();
  cancelled.cancel();
  assert.equal(deadlines.size, 1);
  await withDeadline(kept.promise, WAIT_MS, "the kept deadline");
  assert.equal(cancelledFired, false);
  // No deadline left and no timer running: the test's op sanitizer would see a leaked timer.
  const last = deadlines.after(60_000, () => {});
  last.cancel();
  assert.equal(deadlines.size, 0);
});

Deno.test("Deadlines.cancel() after firing is harmless, also once the tick has a new deadline", async () => {
  const deadlines = new Deadlines({ tickMs: 1_000 });
  const first = Promise.withResolvers<void>();
  const early = deadlines.after(0, () => first.resolve());
  await withDeadline(first.promise, WAIT_MS, "the first deadline");
  // A deadline armed now may land on the tick that just fired; the old handle must not drop it.
  const second = Promise.withResolvers<void>();
  deadlines.after(0, () => second.resolve());
  early.cancel();
  await withDeadline(second.promise, WAIT_MS, "the second deadline");
});

Deno.test("Deadlines.close() disarms everything", () => {
  const deadlines = new Deadlines();
  deadlines.after(10, () => assert.fail("fired after close()"));
  deadlines.close();
  assert.equal(deadlines.size, 0);
  assert.throws(() => new Deadlines({ tickMs: 0 }), RangeError);
});
