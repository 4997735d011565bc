/**
 * The decoding cursor: every read is bounds-checked against the current window (the message,
 * or the TLV being read), and every problem throws a {@linkcode WireError} with an RFC 5354
 * error cause and the byte offset.
 */
import { ErrorCauseCode } from "./codes.ts";
import type { DecodeLimits } from "./decode_options.ts";
import { WireError } from "./wire_error.ts";

/** True for the parameter types Poolgate decodes: RFC 5354 §3 (0x1..0x10) and HROPT (0x803f). */
export function isKnownParameterType(type: number): boolean {
  return (type >= 0x0001 && type <= 0x0010) || type === 0x803f;
}

const ACTION_MASK = 0xc000;
const ACTION_STOP = 0x0000;
const ACTION_STOP_AND_REPORT = 0x4000;
const ACTION_SKIP_AND_REPORT = 0xc000;

/**
 * A cursor over one message. A TLV is read inside a window bounded by its own Length
 * ({@linkcode WireReader.enterParameter} … {@linkcode WireReader.leaveParameter}), so an inner
 * over-read fails instead of spilling into the next parameter. Offsets count from `bytes[0]`,
 * where the message starts.
 */
export class WireReader {
  #bytes: Uint8Array;
  #pos = 0;
  #end: number;
  #limits: DecodeLimits;
  #parameters = 0;
  #unrecognized: Uint8Array[] | undefined = undefined;

  /** Reads the message in `bytes[0, end)`, enforcing `limits`. */
  constructor(bytes: Uint8Array, end: number, limits: DecodeLimits) {
    this.#bytes = bytes;
    this.#end = end;
    this.#limits = limits;
  }

  /** The offset of the next byte to read. */
  get offset(): number {
    return this.#pos;
  }

  /** The end of the current window (exclusive). */
  get end(): number {
    return this.#end;
  }

  /** The whole input; offsets index into it. */
  get input(): Uint8Array {
    return this.#bytes;
  }

  /** The limits this decode enforces. */
  get limits(): DecodeLimits {
    return this.#limits;
  }

  /** Unrecognized parameters whose action bits say "skip and report", as views of the input. */
  get unrecognizedParameters(): Uint8Array[] | undefined {
    return this.#unrecognized;
  }

  /** Throws the WireError "Cannot decode `what` at offset N: `reason`". */
  fail(
    what: string,
    reason: string,
    offset: number = this.#pos,
    causeCode: ErrorCauseCode = ErrorCauseCode.invalidValues,
  ): never {
    throw new WireError(`Cannot decode ${what} at offset ${offset}: ${reason}`, causeCode, offset);
  }

  #need(count: number, what: string): void {
    const left = this.#end - this.#pos;
    if (left < count) this.fail(what, `needs ${count} bytes, ${left} left`);
  }

  /** Reads an unsigned 8-bit integer. */
  u8(what: string): number {
    this.#need(1, what);
    return this.#bytes[this.#pos++]!;
  }

  /** Reads an unsigned big-endian 16-bit integer. */
  u16(what: string): number {
    this.#need(2, what);
    const b = this.#bytes;
    const p = this.#pos;
    this.#pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }

  /** Reads an unsigned big-endian 32-bit integer. */
  u32(what: string): number {
    this.#need(4, what);
    const b = this.#bytes;
    const p = this.#pos;
    this.#pos = p + 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }

  /** Reads a signed big-endian 32-bit integer. */
  i32(what: string): number {
    this.#need(4, what);
    const b = this.#bytes;
    const p = this.#pos;
    this.#pos = p + 4;
    return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
  }

  /** Steps over `count` bytes; returns the offset where they start. */
  skip(count: number, what: string): number {
    this.#need(count, what);
    const p = this.#pos;
    this.#pos = p + count;
    return p;
  }

  /** Returns the next `count` bytes as a view of the input (no copy). */
  view(count: number, what: string): Uint8Array {
    this.#need(count, what);
    const p = this.#pos;
    this.#pos = p + count;
    return this.#bytes.subarray(p, p + count);
  }

  /** Returns the rest of the current window as a view of the input (no copy). */
  rest(): Uint8Array {
    const p = this.#pos;
    this.#pos = this.#end;
    return this.#bytes.subarray(p, this.#end);
  }

  /** Bytes left in the current window. */
  remaining(): number {
    return this.#end - this.#pos;
  }

  /** Rejects bytes left over in the current window. */
  done(what: string): void {
    const left = this.#end - this.#pos;
    if (left !== 0) this.fail(what, `${left} bytes left over`);
  }

  /**
   * Enters the TLV at the cursor: checks its Length (at least 4, inside the current window)
   * and makes its value the window. Returns what {@linkcode leaveParameter} needs.
   */
  enterParameter(what: string): number {
    const p = this.#pos;
    const outerEnd = this.#end;
    if (outerEnd - p < 4) {
      this.fail(what, `needs 4 bytes for the header, ${outerEnd - p} left`);
    }
    const length = (this.#bytes[p + 2]! << 8) | this.#bytes[p + 3]!;
    this.#checkLength(length, p, outerEnd, what);
    this.#pos = p + 4;
    this.#end = p + length;
    return outerEnd;
  }

  /**
   * Leaves the TLV entered with {@linkcode enterParameter}: rejects unread value bytes, then
   * steps over the padding. An enclosing window may end right after the value (RFC 5354 §2:
   * no padding after the last nested TLV) or after the padding (RSPLIB); anything between is
   * rejected.
   */
  leaveParameter(outerEnd: number, what: string): void {
    this.done(what);
    this.#pos = this.#next(this.#end, outerEnd, what);
    this.#end = outerEnd;
  }

  /**
   * Returns the type of the next parameter Poolgate knows, or -1 at the end of the window,
   * after applying the action bits of unknown types (RFC 5354 §3): 00 and 01 throw
   * {@linkcode WireError} with cause 0x1 (`report` false and true), 10 skips, 11 skips and
   * records the TLV in {@linkcode unrecognizedParameters}.
   */
  nextParameterType(what: string): number {
    const b = this.#bytes;
    for (;;) {
      const p = this.#pos;
      const end = this.#end;
      if (p === end) return -1;
      if (end - p < 4) {
        this.fail(what, `needs 4 bytes for a parameter header, ${end - p} left`);
      }
      const type = (b[p]! << 8) | b[p + 1]!;
      if (isKnownParameterType(type)) return type;
      const length = (b[p + 2]! << 8) | b[p + 3]!;
      this.#checkLength(length, p, end, what);
      const tlv = b.subarray(p, p + length);
      const action = type & ACTION_MASK;
      if (action === ACTION_STOP || action === ACTION_STOP_AND_REPORT) {
        throw new WireError(
          `Cannot decode ${what} at offset ${p}: unrecognized parameter type 0x${
            type.toString(16).padStart(4, "0")
          }`,
          ErrorCauseCode.unrecognizedParameter,
          p,
          tlv,
          { report: action === ACTION_STOP_AND_REPORT },
        );
      }
      if (action === ACTION_SKIP_AND_REPORT) (this.#unrecognized ??= []).push(tlv);
      this.#pos = this.#next(p + length, end, what);
    }
  }

  /** Rejects any further known parameter in the window (unknown ones follow their action bits). */
  expectEnd(what: string): void {
    const type = this.nextParameterType(what);
    if (type !== -1) this.unexpected(type, what);
  }

  /** Throws Invalid Values for a known parameter where the message does not allow it. */
  unexpected(type: number, what: string): never {
    if (type === -1) this.fail(what, "a mandatory parameter is missing");
    this.fail(what, `unexpected parameter type 0x${type.toString(16).padStart(4, "0")}`);
  }

  #checkLength(length: number, p: number, end: number, what: string): void {
    if (length < 4) this.fail(what, `length ${length} is below the minimum 4`, p + 2);
    if (length > end - p) {
      this.fail(what, `length ${length} exceeds the ${end - p} bytes left`, p + 2);
    }
    if (++this.#parameters > this.#limits.maxParameters) {
      this.fail(
        what,
        `more than ${this.#limits.maxParameters} parameters`,
        p,
        ErrorCauseCode.lackOfResources,
      );
    }
  }

  // Every TLV starts 4-aligned from the message start, so its padding follows from where it ends.
  #next(valueEnd: number, windowEnd: number, what: string): number {
    const padded = valueEnd + (-valueEnd & 3);
    if (padded <= windowEnd) return padded;
    if (valueEnd === windowEnd) return valueEnd;
    return this.fail(what, "padding is cut short by the end of the enclosing window", valueEnd);
  }
}
