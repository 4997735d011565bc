/**
 * Folder-private: what one selection needs besides the pool (time, exclusions) and the scratch
 * arrays it writes to, reused from call to call so that a selection allocates nothing.
 */
import type { ElementStore } from "./_store.ts";

/** Per-handlespace selection scratch: set `now` and `exclude`, then call a pool selector. */
export class SelectionContext {
  /** Current time, milliseconds: elements whose registration life ran out are skipped. */
  now = 0;
  /** PE identifiers the caller does not want. */
  exclude: ReadonlySet<number> | undefined = undefined;
  /** Selected slots, in order. */
  out = new Int32Array(16);
  /** Heap positions of the selected slots (ordered policies). */
  positions = new Int32Array(16);
  /** Scratch for the ordered policies' best-first search. */
  frontier = new Int32Array(64);
  readonly #store: ElementStore;

  /** Builds a context over `store`. */
  constructor(store: ElementStore) {
    this.#store = store;
  }

  /** True when `slot` may be selected: not expired and not excluded. */
  eligible(slot: number): boolean {
    return this.#store.expiry[slot]! > this.now &&
      (this.exclude === undefined || !this.exclude.has(this.#store.id[slot]!));
  }

  /** Makes `out` hold at least `count` slots. */
  reserve(count: number): void {
    if (this.out.length < count) {
      this.out = new Int32Array(Math.max(count, this.out.length * 2));
      this.positions = new Int32Array(this.out.length);
    }
  }

  /** Doubles the frontier, keeping its contents, and returns it. */
  growFrontier(): Int32Array {
    const next = new Int32Array(this.frontier.length * 2);
    next.set(this.frontier);
    this.frontier = next;
    return next;
  }
}
