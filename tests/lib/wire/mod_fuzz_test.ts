import assert from "node:assert/strict";
import { checkInput, fuzzInput, runFuzz } from "./fuzzing.ts";

Deno.test("decodeAsapMessage() and decodeEnrpMessage() throw only WireError on 100,000 fuzzed inputs", async () => {
  const report = await runFuzz({ seed: 20250101, inputs: 100_000 });
  assert.equal(
    report.failure,
    undefined,
    `input ${report.failure?.index}: ${report.failure?.reason}\n${report.failure?.hex}`,
  );
  assert.equal(report.inputs, 100_000);
  // The inputs reach past the first checks: some are still valid messages.
  assert.ok(report.accepted > 1000, `only ${report.accepted} inputs decoded`);
});

Deno.test("fuzzInput() gives the same bytes for the same seed and index", () => {
  assert.deepEqual(fuzzInput(7, 12345), fuzzInput(7, 12345));
  assert.notDeepEqual(fuzzInput(7, 12345).bytes, fuzzInput(8, 12345).bytes);
});

Deno.test("checkInput() tells accepted from rejected input", () => {
  assert.equal(checkInput(Uint8Array.of(0x02, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 2)), true);
  assert.equal(checkInput(Uint8Array.of(0x0b, 0, 0, 3)), false);
  assert.equal(checkInput(new Uint8Array(0)), false);
});
