/**
 * Fuzzes the ASAP and ENRP decoders: seeded mutations, truncations, extensions and splices of
 * valid messages, and random bytes. Prints one JSON line; exits 1 with the failing input's hex
 * when a decoder throws anything but WireError, reports an offset outside its input, accepts
 * what it cannot re-encode, or hangs.
 *
 *   deno run --allow-read bench/wire_fuzz.ts [--inputs N] [--seed S] [--seconds T]
 */
import { parseArgs } from "node:util";
import { runFuzz } from "../tests/lib/wire/fuzzing.ts";

/** Inputs checked when neither --inputs nor --seconds is given. */
export const DEFAULT_FUZZ_INPUTS = 1_000_000;

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`Cannot fuzz as '--${name}' must be a positive number: current value is ${text}`);
    Deno.exit(2);
  }
  return value;
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    inputs: { type: "string" },
    seed: { type: "string" },
    seconds: { type: "string" },
  },
});
const seconds = positive("seconds", values.seconds, Infinity);
const inputs = Math.floor(
  positive(
    "inputs",
    values.inputs,
    values.seconds === undefined ? DEFAULT_FUZZ_INPUTS : Number.MAX_SAFE_INTEGER,
  ),
);
const seed = Math.floor(positive("seed", values.seed, 1));

const report = await runFuzz({ seed, inputs, seconds });
console.log(JSON.stringify({
  bench: "wire_fuzz",
  metric: "inputs",
  value: report.inputs,
  unit: "inputs",
  seed: report.seed,
  accepted: report.accepted,
  seconds: Math.round(report.seconds * 100) / 100,
  inputsPerSecond: Math.round(report.inputs / report.seconds),
  failures: report.failure === undefined ? 0 : 1,
}));
if (report.failure !== undefined) {
  console.error(`input ${report.failure.index}: ${report.failure.reason}`);
  console.error(report.failure.hex);
  Deno.exit(1);
}
