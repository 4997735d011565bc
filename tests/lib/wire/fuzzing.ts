/**
 * Decoder fuzzing: seeded inputs (mutated, truncated, extended and spliced valid messages, and
 * random bytes), the property every input must keep, and a runner that checks inputs in a
 * worker so that a hang is caught and named. Input `i` of seed `s` is always the same bytes.
 */
import {
  decodeAsapMessage,
  decodeEnrpMessage,
  encodeAsapMessage,
  encodeEnrpMessage,
  messageToJson,
  WireError,
} from "../../../lib/wire/mod.ts";
import type { AsapMessage, EnrpMessage } from "../../../lib/wire/mod.ts";
import { toHex } from "./_wireshark_fields.ts";
import { Random, randomAsapMessage, randomEnrpMessage } from "./generator.ts";

/** One fuzz input. */
export interface FuzzInput {
  readonly protocol: "asap" | "enrp";
  readonly bytes: Uint8Array;
}

function setLength(bytes: Uint8Array, length: number): void {
  if (bytes.length >= 4) {
    bytes[2] = length >>> 8;
    bytes[3] = length;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function validMessage(random: Random, protocol: "asap" | "enrp"): Uint8Array {
  return protocol === "asap"
    ? encodeAsapMessage(randomAsapMessage(random))
    : encodeEnrpMessage(randomEnrpMessage(random));
}

const EDGE_VALUES = [0, 1, 3, 4, 5, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xfffe, 0xffff];

function mutate(random: Random, bytes: Uint8Array): void {
  const count = random.between(1, 4);
  for (let i = 0; i < count && bytes.length > 0; i++) {
    const at = random.below(bytes.length);
    switch (random.below(4)) {
      case 0:
        bytes[at] = random.below(256);
        break;
      case 1:
        bytes[at]! ^= 1 << random.below(8);
        break;
      default: {
        // A 16-bit field (type or length) set to an edge value.
        const even = at & ~1;
        const value = random.pick(EDGE_VALUES);
        bytes[even] = value >>> 8;
        if (even + 1 < bytes.length) bytes[even + 1] = value;
      }
    }
  }
}

/** Input number `index` of the run seeded with `seed`. */
export function fuzzInput(seed: number, index: number): FuzzInput {
  const random = new Random((Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
  const protocol = random.chance(0.5) ? "asap" : "enrp";
  switch (random.below(10)) {
    case 0:
      return { protocol, bytes: random.bytes(random.below(65)) };
    case 1: {
      // A plausible header over random bytes.
      const bytes = random.bytes(random.between(4, 96));
      bytes[0] = random.below(16);
      setLength(bytes, random.chance(0.7) ? bytes.length : random.below(120));
      return { protocol, bytes };
    }
    case 2: {
      const message = validMessage(random, protocol);
      const bytes = message.slice(0, random.below(message.length));
      if (random.chance(0.5)) setLength(bytes, bytes.length);
      return { protocol, bytes };
    }
    case 3: {
      const bytes = concat(validMessage(random, protocol), random.bytes(random.between(1, 8)));
      if (random.chance(0.5)) setLength(bytes, bytes.length);
      return { protocol, bytes };
    }
    case 4: {
      // A TLV Length at a 4-aligned offset set to something near the truth.
      const bytes = validMessage(random, protocol).slice();
      const at = 4 + 4 * random.below(Math.max(1, (bytes.length - 4) >> 2));
      if (at + 3 < bytes.length) {
        const value = random.chance(0.5)
          ? random.below(0x30)
          : bytes.length - at + random.between(-3, 3);
        bytes[at + 2] = value >>> 8;
        bytes[at + 3] = value;
      }
      return { protocol, bytes };
    }
    case 5: {
      // The head of one message and the tail of another.
      const a = validMessage(random, protocol);
      const b = validMessage(random, protocol);
      const bytes = concat(
        a.subarray(0, random.below(a.length)),
        b.subarray(random.below(b.length)),
      );
      setLength(bytes, bytes.length);
      return { protocol, bytes };
    }
    case 6: {
      // An unknown TLV with random action bits inserted at a 4-aligned offset.
      const message = validMessage(random, protocol);
      const at = 4 * random.between(1, message.length >> 2);
      const value = random.bytes(random.below(9));
      const tlv = new Uint8Array(4 + ((value.length + 3) & ~3));
      tlv[0] = random.pick([0x00, 0x40, 0x80, 0xc0]) | random.below(0x40);
      tlv[1] = 0x40 | random.below(0xc0);
      tlv[3] = 4 + value.length;
      tlv.set(value, 4);
      const bytes = concat(concat(message.subarray(0, at), tlv), message.subarray(at));
      setLength(bytes, bytes.length);
      return { protocol, bytes };
    }
    default: {
      const bytes = validMessage(random, protocol).slice();
      mutate(random, bytes);
      return { protocol, bytes };
    }
  }
}

function checkWith<M>(
  bytes: Uint8Array,
  name: string,
  decode: (bytes: Uint8Array) => M,
  encode: (message: M) => Uint8Array,
  json: (message: M) => unknown,
): string | boolean {
  let message: M;
  try {
    message = decode(bytes);
  } catch (error) {
    if (!(error instanceof WireError)) return `${name} threw ${String(error)}`;
    if (!Number.isInteger(error.offset) || error.offset < 0 || error.offset > bytes.length) {
      return `${name} reported offset ${error.offset} outside the ${bytes.length} bytes`;
    }
    return false;
  }
  try {
    const again = encode(message);
    if (toHex(encode(decode(again))) !== toHex(again)) return `${name}: re-encoding is not stable`;
    json(message);
  } catch (error) {
    return `${name} accepted the input but re-encoding failed: ${String(error)}`;
  }
  return true;
}

/**
 * Feeds `bytes` to both decoders. Returns whether a decoder accepted it, or a string saying
 * what went wrong: an exception other than WireError, a WireError offset outside the input,
 * or an accepted message that does not re-encode stably.
 */
export function checkInput(bytes: Uint8Array): string | boolean {
  const asap = checkWith<AsapMessage>(
    bytes,
    "decodeAsapMessage()",
    decodeAsapMessage,
    encodeAsapMessage,
    messageToJson,
  );
  if (typeof asap === "string") return asap;
  const enrp = checkWith<EnrpMessage>(
    bytes,
    "decodeEnrpMessage()",
    decodeEnrpMessage,
    encodeEnrpMessage,
    messageToJson,
  );
  if (typeof enrp === "string") return enrp;
  return asap || enrp;
}

/** What a fuzz run found. */
export interface FuzzReport {
  readonly seed: number;
  readonly inputs: number;
  readonly accepted: number;
  readonly seconds: number;
  /** The first input that broke the property, or that did not finish within `stallSeconds`. */
  readonly failure?: { readonly index: number; readonly hex: string; readonly reason: string };
}

/** How a fuzz run is bounded. */
export interface FuzzOptions {
  readonly seed: number;
  /** Inputs to check. */
  readonly inputs: number;
  /** Stop after this many seconds even if inputs remain. @default {Infinity} */
  readonly seconds?: number;
  /** A run that makes no progress for this long has hung on its current input. @default {10} */
  readonly stallSeconds?: number;
}

/** Messages between the runner and its worker. */
export type WorkerRequest = Required<Omit<FuzzOptions, "stallSeconds">> & {
  readonly progress: SharedArrayBuffer;
};

/** Slots of the shared progress array: the input being checked, and a heartbeat counter. */
export const PROGRESS_INDEX = 0;
/** Incremented (and notified) every {@linkcode HEARTBEAT_EVERY} inputs. */
export const PROGRESS_HEARTBEAT = 1;
/** Inputs between heartbeats. */
export const HEARTBEAT_EVERY = 1024;

/**
 * Runs the fuzz inputs in a worker; a hang (no heartbeat for `stallSeconds`) is reported with
 * the input the worker was stuck on. Deno 2.9's `terminate()` does not stop a worker caught in
 * a loop, so a script that gets a hang report should end with `Deno.exit()` (`deno test`
 * exits on its own).
 */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const progress = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(new URL("./fuzz_worker.ts", import.meta.url), { type: "module" });
  const started = performance.now();
  try {
    const done = new Promise<FuzzReport>((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<FuzzReport>) => resolve(event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        reject(new Error(`Cannot fuzz as the worker failed: ${event.message}`));
      };
    });
    const request: WorkerRequest = {
      seed: options.seed,
      inputs: options.inputs,
      seconds: options.seconds ?? Infinity,
      progress: progress.buffer as SharedArrayBuffer,
    };
    worker.postMessage(request);
    const stallMs = (options.stallSeconds ?? 10) * 1000;
    for (;;) {
      const beat = Atomics.load(progress, PROGRESS_HEARTBEAT);
      const wait = Atomics.waitAsync(progress, PROGRESS_HEARTBEAT, beat, stallMs);
      const outcome = wait.async ? await Promise.race([wait.value, done]) : wait.value;
      if (typeof outcome === "object") return outcome;
      if (outcome === "timed-out") {
        const index = Atomics.load(progress, PROGRESS_INDEX);
        return {
          seed: options.seed,
          inputs: index,
          accepted: 0,
          seconds: (performance.now() - started) / 1000,
          failure: {
            index,
            hex: toHex(fuzzInput(options.seed, index).bytes),
            reason: `no progress for ${stallMs / 1000} s: the decoder hangs`,
          },
        };
      }
    }
  } finally {
    worker.terminate();
    // Wakes the heartbeat wait still pending after the worker answered.
    Atomics.notify(progress, PROGRESS_HEARTBEAT);
  }
}
