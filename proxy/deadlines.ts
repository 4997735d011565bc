/**
 * The timeouts of many sessions on one timer. Deno's `setTimeout` builds a Node-style `Timeout`
 * for every call (about a kilobyte of garbage with its bookkeeping) and takes an op to arm and
 * one to clear; a session proxy that armed a connect timeout and an idle watch that way for every
 * session spent ~5 µs of its ~100 µs per `Connection: close` session on them (bench/README.md).
 * Here a deadline is rounded up to a tick and kept in that tick's set; one timer runs, for the
 * earliest tick that still has a deadline, and none runs while nothing is armed.
 *
 * @module
 */

/** Granularity of deadlines: each fires up to this much after its time, never before. */
export const DEFAULT_DEADLINE_TICK_MS = 10;

/** An armed deadline. */
export interface Deadline {
  /** Disarms it; idempotent, and harmless once it has fired. */
  cancel(): void;
}

/** Options of {@linkcode Deadlines}. */
export interface DeadlinesOptions {
  /** Milliseconds per tick. @default {DEFAULT_DEADLINE_TICK_MS} */
  readonly tickMs?: number;
  /** The clock, in milliseconds. @default {performance.now} */
  readonly now?: () => number;
}

class ArmedDeadline implements Deadline {
  constructor(
    readonly owner: Deadlines,
    readonly tick: number,
    readonly bucket: Set<ArmedDeadline>,
    readonly fire: () => void,
  ) {}

  cancel(): void {
    if (this.bucket.delete(this) && this.bucket.size === 0) {
      this.owner.dropTick(this.tick, this.bucket);
    }
  }
}

/** Deadlines of one component (the session proxy), fired by a single timer. */
export class Deadlines {
  readonly #tickMs: number;
  readonly #now: () => number;
  /** Armed deadlines by the tick they are due at. */
  readonly #buckets = new Map<number, Set<ArmedDeadline>>();
  /** The ticks of `#buckets` as a binary min-heap; a tick whose set went empty may linger. */
  readonly #ticks: number[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerTick = Infinity;

  /**
   * Creates an empty set of deadlines.
   *
   * @throws {RangeError} when `tickMs` is not a positive integer.
   */
  constructor(options: DeadlinesOptions = {}) {
    this.#tickMs = options.tickMs ?? DEFAULT_DEADLINE_TICK_MS;
    this.#now = options.now ?? (() => performance.now());
    if (!Number.isSafeInteger(this.#tickMs) || this.#tickMs < 1) {
      throw new RangeError(
        `Cannot create deadlines as 'tickMs' must be a positive integer: current value is ${this.#tickMs}`,
      );
    }
  }

  /** Calls `fire` once `ms` milliseconds have passed (at most one tick later), unless cancelled. */
  after(ms: number, fire: () => void): Deadline {
    const tick = Math.ceil((this.#now() + ms) / this.#tickMs);
    let bucket = this.#buckets.get(tick);
    if (bucket === undefined) {
      bucket = new Set();
      this.#buckets.set(tick, bucket);
      heapPush(this.#ticks, tick);
      if (tick < this.#timerTick) this.#arm(tick);
    }
    const deadline = new ArmedDeadline(this, tick, bucket, fire);
    bucket.add(deadline);
    return deadline;
  }

  /** Armed deadlines. */
  get size(): number {
    let size = 0;
    for (const bucket of this.#buckets.values()) size += bucket.size;
    return size;
  }

  /** Disarms every deadline and stops the timer. */
  close(): void {
    this.#buckets.clear();
    this.#ticks.length = 0;
    this.#disarm();
  }

  /**
   * Forgets `tick` once `bucket`, its set, has no deadline left (a cancelled deadline calls
   * this); stops the timer when no tick is left.
   */
  dropTick(tick: number, bucket: Set<Deadline>): void {
    if (this.#buckets.get(tick) !== bucket) return;
    this.#buckets.delete(tick);
    if (this.#buckets.size === 0) {
      this.#ticks.length = 0;
      this.#disarm();
    }
  }

  #arm(tick: number): void {
    clearTimeout(this.#timer);
    this.#timerTick = tick;
    this.#timer = setTimeout(() => this.#run(), Math.max(0, tick * this.#tickMs - this.#now()));
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerTick = Infinity;
  }

  #run(): void {
    this.#timer = undefined;
    this.#timerTick = Infinity;
    const ticks = this.#ticks;
    while (ticks.length > 0 && ticks[0]! * this.#tickMs <= this.#now()) {
      const tick = heapPop(ticks)!;
      const bucket = this.#buckets.get(tick);
      if (bucket === undefined) continue;
      this.#buckets.delete(tick);
      for (const deadline of bucket) {
        try {
          deadline.fire();
        } catch (error) {
          // As an uncaught error in a timer callback: the other deadlines still fire.
          reportError(error);
        }
      }
      // Fired: a later cancel() finds nothing to disarm.
      bucket.clear();
    }
    // Ticks whose deadlines were all cancelled need no wake-up.
    while (ticks.length > 0 && !this.#buckets.has(ticks[0]!)) heapPop(ticks);
    if (ticks.length > 0) this.#arm(ticks[0]!);
  }
}

function heapPush(heap: number[], value: number): void {
  let at = heap.push(value) - 1;
  while (at > 0) {
    const parent = (at - 1) >> 1;
    if (heap[parent]! <= value) break;
    heap[at] = heap[parent]!;
    at = parent;
  }
  heap[at] = value;
}

function heapPop(heap: number[]): number | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length === 0 || last === undefined) return top;
  let at = 0;
  for (;;) {
    const left = 2 * at + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const child = right < heap.length && heap[right]! < heap[left]! ? right : left;
    if (heap[child]! >= last) break;
    heap[at] = heap[child]!;
    at = child;
  }
  heap[at] = last;
  return top;
}
