/**
 * A stateful service for the PE library (`docs/data_channel.md`): the client sends integers,
 * one per line; each line is answered with the running sum of the session, a line of decimal
 * digits. The running sum travels from pool element to pool element only in state cookies:
 * a pool element that takes a session over knows it from the Cookie Echo alone.
 *
 * A line that is not an integer (optional sign, decimal digits, blanks around) is answered
 * with "error: not an integer" and leaves the sum as it is; a line longer than
 * {@linkcode SUM_MAX_LINE_BYTES} with "error: line too long", once, when it ends.
 *
 * @module
 */
import type { PeSession, PeSessionServerOptions } from "../pe_session.ts";

/** Client bytes between two cookies unless told otherwise. */
export const DEFAULT_SUM_COOKIE_EVERY_BYTES = 4096;
/** Longest line the sum service reads as a number. */
export const SUM_MAX_LINE_BYTES = 1024;

const NEWLINE = 0x0a;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The sum service's state: the running sum and the line read so far. */
export interface SumState {
  sum: bigint;
  /** Bytes of the line not yet ended (at most {@linkcode SUM_MAX_LINE_BYTES}). */
  partial: Uint8Array;
  /** The line being read is too long: its bytes are dropped until its end. */
  tooLong: boolean;
}

/** Options of {@linkcode sumService}. */
export interface SumServiceOptions {
  /** Client bytes between two cookies. @default {DEFAULT_SUM_COOKIE_EVERY_BYTES} */
  readonly cookieEveryBytes?: number;
}

/** The cookie of a sum session: "sum1 SUM FLAG\n" and the partial line. */
export function encodeSumCookie(state: SumState): Uint8Array {
  const head = encoder.encode(`sum1 ${state.sum} ${state.tooLong ? 1 : 0}\n`);
  const bytes = new Uint8Array(head.length + state.partial.length);
  bytes.set(head);
  bytes.set(state.partial, head.length);
  return bytes;
}

/**
 * Decodes a sum cookie.
 *
 * @throws {TypeError} when `cookie` is not one.
 */
export function decodeSumCookie(cookie: Uint8Array): SumState {
  const end = cookie.indexOf(NEWLINE);
  const head = end < 0
    ? undefined
    : /^sum1 (-?\d+) ([01])$/.exec(decoder.decode(cookie.subarray(0, end)));
  const partial = cookie.subarray(end + 1);
  if (head === undefined || head === null || partial.length > SUM_MAX_LINE_BYTES) {
    throw new TypeError("Cannot restore sum session: the cookie is not one");
  }
  return { sum: BigInt(head[1]!), partial: partial.slice(), tooLong: head[2] === "1" };
}

/** The answer to one complete line, and the new sum. */
function answer(state: SumState, line: Uint8Array): string {
  if (state.tooLong) return "error: line too long\n";
  const text = decoder.decode(line).trim();
  if (!/^[+-]?\d+$/.test(text)) return "error: not an integer\n";
  state.sum += BigInt(text);
  return `${state.sum}\n`;
}

/**
 * Runs `chunk` through the state: every line it ends is answered. Returns the answers, which
 * depend only on the bytes, not on how they were split into chunks.
 */
export function sumChunk(state: SumState, chunk: Uint8Array): string {
  let out = "";
  let at = 0;
  while (at < chunk.length) {
    const newline = chunk.indexOf(NEWLINE, at);
    const end = newline < 0 ? chunk.length : newline;
    const piece = chunk.subarray(at, end);
    if (!state.tooLong) {
      if (state.partial.length + piece.length > SUM_MAX_LINE_BYTES) {
        state.tooLong = true;
        state.partial = new Uint8Array(0);
      } else if (piece.length > 0) {
        const joined = new Uint8Array(state.partial.length + piece.length);
        joined.set(state.partial);
        joined.set(piece, state.partial.length);
        state.partial = joined;
      }
    }
    if (newline < 0) break;
    out += answer(state, state.partial);
    state.partial = new Uint8Array(0);
    state.tooLong = false;
    at = newline + 1;
  }
  return out;
}

/** The `restore` and `serve` of a sum service, for {@linkcode servePeSessions}. */
export function sumService(
  options: SumServiceOptions = {},
): Pick<PeSessionServerOptions<SumState>, "restore" | "serve"> {
  const every = options.cookieEveryBytes ?? DEFAULT_SUM_COOKIE_EVERY_BYTES;
  if (!Number.isSafeInteger(every) || every < 1) {
    throw new RangeError(
      `Cannot create sum service as 'cookieEveryBytes' must be a positive integer: current value is ${every}`,
    );
  }
  return {
    restore(cookie: Uint8Array | undefined): SumState {
      return cookie === undefined
        ? { sum: 0n, partial: new Uint8Array(0), tooLong: false }
        : decodeSumCookie(cookie);
    },
    async serve(session: PeSession, state: SumState): Promise<void> {
      const buffer = new Uint8Array(64 * 1024);
      let lastCookie = session.consumed;
      for (let n = await session.read(buffer); n !== null; n = await session.read(buffer)) {
        const out = sumChunk(state, buffer.subarray(0, n));
        if (out !== "") await session.write(encoder.encode(out));
        if (session.consumed - lastCookie >= every) {
          lastCookie = session.consumed;
          await session.sendCookie(encodeSumCookie(state));
        }
      }
    },
  };
}
