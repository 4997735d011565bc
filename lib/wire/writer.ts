/**
 * The encoding buffer: grows as needed, reserves Length fields and back-patches them, and pads
 * every TLV in one place ({@linkcode WireWriter.endParameter}). One writer per message: none is
 * shared between calls.
 */
import { roundup4 } from "./header.ts";

/** Initial capacity of a {@linkcode WireWriter}, in bytes. */
export const DEFAULT_WRITER_CAPACITY = 256;

function rangeError(field: string, value: number, range: string): RangeError {
  return new RangeError(
    `Cannot encode ${field} as it must be an integer from ${range}: current value is ${value}`,
  );
}

/** A growing big-endian byte buffer for one message. */
export class WireWriter {
  #buf: Uint8Array;
  #pos = 0;
  // Where the value of the TLV closed last ends, and where its padding ends: an enclosing TLV or
  // the message that ends at the padding counts only up to the value (RFC 5354 §2, §4).
  #valueEnd = -1;
  #paddedEnd = -1;

  /** Starts an empty buffer of `initialCapacity` bytes (it grows as needed). */
  constructor(initialCapacity: number = DEFAULT_WRITER_CAPACITY) {
    this.#buf = new Uint8Array(initialCapacity);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#pos;
  }

  #ensure(count: number): void {
    const needed = this.#pos + count;
    if (needed > this.#buf.length) {
      const grown = new Uint8Array(Math.max(needed, this.#buf.length * 2));
      grown.set(this.#buf.subarray(0, this.#pos));
      this.#buf = grown;
    }
  }

  /** Writes an unsigned 8-bit integer. */
  u8(value: number, field: string): void {
    if ((value & 0xff) !== value) throw rangeError(field, value, "0 to 255");
    this.#ensure(1);
    this.#buf[this.#pos++] = value;
  }

  /** Writes an unsigned big-endian 16-bit integer. */
  u16(value: number, field: string): void {
    if ((value & 0xffff) !== value) throw rangeError(field, value, "0 to 65535");
    this.#ensure(2);
    const b = this.#buf;
    const p = this.#pos;
    b[p] = value >>> 8;
    b[p + 1] = value;
    this.#pos = p + 2;
  }

  /** Writes an unsigned big-endian 32-bit integer. */
  u32(value: number, field: string): void {
    if (value >>> 0 !== value) throw rangeError(field, value, "0 to 4294967295");
    this.#put32(value);
  }

  /** Writes a signed big-endian 32-bit integer. */
  i32(value: number, field: string): void {
    if ((value | 0) !== value) throw rangeError(field, value, "-2147483648 to 2147483647");
    this.#put32(value);
  }

  #put32(value: number): void {
    this.#ensure(4);
    const b = this.#buf;
    const p = this.#pos;
    b[p] = value >>> 24;
    b[p + 1] = value >>> 16;
    b[p + 2] = value >>> 8;
    b[p + 3] = value;
    this.#pos = p + 4;
  }

  /** Writes `bytes` as they are. */
  bytes(bytes: Uint8Array): void {
    this.#ensure(bytes.length);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
  }

  /** Writes a message header with a placeholder Length; returns the mark for {@linkcode finishMessage}. */
  beginMessage(type: number, flags: number): number {
    const mark = this.#pos;
    this.#ensure(4);
    this.#buf[mark] = type;
    this.#buf[mark + 1] = flags;
    this.#pos = mark + 4;
    return mark;
  }

  /**
   * Back-patches the message Length (without the final padding, DECISIONS.md), pads to 4 and
   * returns the message with its padding: a view of this writer's buffer (allocating a
   * buffer costs far more than a view), at most twice the message's size plus
   * {@linkcode DEFAULT_WRITER_CAPACITY}; `slice()` it to keep it long.
   *
   * @throws {RangeError} when the message exceeds 65535 bytes.
   */
  finishMessage(mark: number, what: string): Uint8Array {
    this.#close(mark, what);
    return this.#buf.subarray(mark, this.#pos);
  }

  /**
   * Makes room for `count` bytes and moves past them; returns where they start in
   * {@linkcode buffer}, for a caller that writes them in place.
   */
  reserve(count: number): number {
    this.#ensure(count);
    const at = this.#pos;
    this.#pos = at + count;
    return at;
  }

  /** The buffer being written; valid until the next write, which may replace it. */
  get buffer(): Uint8Array {
    return this.#buf;
  }

  /**
   * Writes a TLV header (a parameter or an error cause) with a placeholder Length; returns the
   * mark for {@linkcode endParameter}.
   *
   * @throws {RangeError} when `type` is not a u16.
   */
  beginParameter(type: number): number {
    if ((type & 0xffff) !== type) throw rangeError("parameter type", type, "0 to 65535");
    const mark = this.#pos;
    this.#ensure(4);
    this.#buf[mark] = type >>> 8;
    this.#buf[mark + 1] = type;
    this.#pos = mark + 4;
    return mark;
  }

  /**
   * Back-patches the TLV Length as 4 + value length (an enclosing TLV's value ends before its
   * last nested TLV's padding, RFC 5354 §2) and pads to a multiple of 4 with zeros.
   *
   * @throws {RangeError} when the TLV exceeds 65535 bytes.
   */
  endParameter(mark: number, what: string): void {
    this.#close(mark, what);
  }

  #close(mark: number, what: string): void {
    const valueEnd = this.#pos === this.#paddedEnd ? this.#valueEnd : this.#pos;
    const length = valueEnd - mark;
    if (length > 0xffff) {
      throw new RangeError(`Cannot encode ${what} as its length ${length} exceeds 65535`);
    }
    this.#buf[mark + 2] = length >>> 8;
    this.#buf[mark + 3] = length;
    const paddedEnd = mark + roundup4(length);
    this.#ensure(paddedEnd - this.#pos);
    // The buffer is zeroed and never rewritten behind the cursor, so padding is a skip.
    this.#pos = paddedEnd;
    this.#valueEnd = valueEnd;
    this.#paddedEnd = paddedEnd;
  }
}
