/**
 * The replay buffer of a control-channel session: the client bytes since the last state cookie,
 * which a failover sends again after the Cookie Echo (docs/data_channel.md). A ring addressed by
 * absolute stream offsets; its storage grows by doubling up to the bound, so an idle or chatty
 * session holds little.
 *
 * @module
 */
import { dataFramesLength, writeDataFrames } from "../lib/asap/data_channel.ts";

/**
 * Bytes a replay buffer starts with (or its bound, when lower): a request's worth. Every
 * control-channel session allocates one, and 16 KiB each cost a `Connection: close` session
 * ~7 % more proxy CPU in allocation and GC, while a bulk stream doubles past this at once.
 */
export const INITIAL_REPLAY_STORAGE_BYTES = 1024;

/** Client bytes from {@linkcode ReplayBuffer.base} to {@linkcode ReplayBuffer.end}. */
export class ReplayBuffer {
  /** Most bytes held at once. */
  readonly capacity: number;
  #storage: Uint8Array;
  /** Index in `#storage` of the byte at `#base`. */
  #head = 0;
  #base = 0;
  #end = 0;

  /**
   * Creates an empty buffer holding at most `capacity` bytes.
   *
   * @throws {RangeError} when `capacity` is not a positive integer.
   */
  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(
        `Cannot create replay buffer as 'capacity' must be a positive integer: current value is ${capacity}`,
      );
    }
    this.capacity = capacity;
    this.#storage = new Uint8Array(Math.min(capacity, INITIAL_REPLAY_STORAGE_BYTES));
  }

  /** Stream offset of the first byte held: the consumed count of the last cookie. */
  get base(): number {
    return this.#base;
  }

  /** Stream offset after the last byte held: every client byte read so far. */
  get end(): number {
    return this.#end;
  }

  /** Bytes held. */
  get length(): number {
    return this.#end - this.#base;
  }

  /** Bytes that may still be appended. */
  get room(): number {
    return this.capacity - this.length;
  }

  /** Bytes of storage allocated now. */
  get storageBytes(): number {
    return this.#storage.length;
  }

  /**
   * Appends `bytes` (copied) at the end.
   *
   * @throws {RangeError} when they do not fit in {@linkcode room}.
   */
  append(bytes: Uint8Array): void {
    const length = this.length;
    if (bytes.length > this.capacity - length) {
      throw new RangeError(
        `Cannot append ${bytes.length} bytes to replay buffer: only ${this.room} of ${this.capacity} are free`,
      );
    }
    if (length + bytes.length > this.#storage.length) this.#grow(length + bytes.length);
    const storage = this.#storage;
    const at = (this.#head + length) % storage.length;
    const first = Math.min(bytes.length, storage.length - at);
    storage.set(first === bytes.length ? bytes : bytes.subarray(0, first), at);
    if (first < bytes.length) storage.set(bytes.subarray(first), 0);
    this.#end += bytes.length;
  }

  /**
   * Drops the bytes before stream offset `offset` (a cookie covers them).
   *
   * @throws {RangeError} when `offset` is outside {@linkcode base}..{@linkcode end}.
   */
  discardTo(offset: number): void {
    this.#checkRange(offset, this.#end);
    this.#head = (this.#head + offset - this.#base) % this.#storage.length;
    this.#base = offset;
  }

  /**
   * Bytes that {@linkcode writeFrames} takes for the range `from` to `to`.
   *
   * @throws {RangeError} when the range is not held.
   */
  framedLength(from: number, to: number): number {
    const first = this.#firstPart(from, to);
    const length = to - from;
    return first === length
      ? dataFramesLength(length)
      : dataFramesLength(first) + dataFramesLength(length - first);
  }

  /**
   * Frames the bytes from stream offset `from` to `to` as data frames into `target` at
   * `offset`; returns the offset after them.
   *
   * @throws {RangeError} when the range is not held.
   */
  writeFrames(target: Uint8Array, offset: number, from: number, to: number): number {
    const first = this.#firstPart(from, to);
    const storage = this.#storage;
    const at = (this.#head + from - this.#base) % storage.length;
    const length = to - from;
    if (first === length) return writeDataFrames(target, offset, storage.subarray(at, at + length));
    // Wrapped: the two parts are framed separately (one more header at most).
    offset = writeDataFrames(target, offset, storage.subarray(at));
    return writeDataFrames(target, offset, storage.subarray(0, length - first));
  }

  /** Copies the bytes from stream offset `from` to `to` into a new array (tests, logs). */
  slice(from: number = this.#base, to: number = this.#end): Uint8Array {
    this.#checkRange(from, to);
    const out = new Uint8Array(to - from);
    const storage = this.#storage;
    const at = (this.#head + from - this.#base) % storage.length;
    const first = Math.min(out.length, storage.length - at);
    out.set(storage.subarray(at, at + first));
    if (first < out.length) out.set(storage.subarray(0, out.length - first), first);
    return out;
  }

  /** Bytes of the range `from`..`to` before the storage wraps. */
  #firstPart(from: number, to: number): number {
    this.#checkRange(from, to);
    const at = (this.#head + from - this.#base) % this.#storage.length;
    return Math.min(to - from, this.#storage.length - at);
  }

  #checkRange(from: number, to: number): void {
    if (!(this.#base <= from && from <= to && to <= this.#end)) {
      throw new RangeError(
        `Cannot address replay buffer range ${from}..${to}: it holds ${this.#base}..${this.#end}`,
      );
    }
  }

  #grow(needed: number): void {
    let size = this.#storage.length;
    while (size < needed) size *= 2;
    const storage = new Uint8Array(Math.min(size, this.capacity));
    // The held bytes, unwrapped to the front: at most two copies, no temporary array.
    const old = this.#storage;
    const length = this.length;
    const first = Math.min(length, old.length - this.#head);
    storage.set(old.subarray(this.#head, this.#head + first));
    if (first < length) storage.set(old.subarray(0, length - first), first);
    this.#storage = storage;
    this.#head = 0;
  }
}
