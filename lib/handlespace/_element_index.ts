/**
 * Folder-private: finds a pool element's slot by (pool index, PE identifier).
 *
 * Open addressing with linear probing over an `Int32Array` (slot + 1, 0 = empty) and
 * backward-shift deletion, so there are no tombstones. PE identifiers are random u32 values,
 * most of them outside V8's small-integer range, which would make them slow `Map` keys.
 */
import type { ElementStore } from "./_store.ts";

/** The (pool, PE identifier) → slot index of one handlespace. */
export class ElementIndex {
  #table = new Int32Array(1024);
  #mask = 1023;
  #size = 0;
  readonly #store: ElementStore;

  /** Builds an empty index over `store`. */
  constructor(store: ElementStore) {
    this.#store = store;
  }

  /** The slot of PE `id` in pool `pool`, or -1. */
  find(pool: number, id: number): number {
    const table = this.#table;
    const mask = this.#mask;
    const ids = this.#store.id;
    const pools = this.#store.pool;
    let i = hash(pool, id) & mask;
    for (;;) {
      const entry = table[i]!;
      if (entry === 0) return -1;
      const slot = entry - 1;
      if (ids[slot] === id && pools[slot] === pool) return slot;
      i = (i + 1) & mask;
    }
  }

  /** Adds `slot`, whose pool and identifier are already stored and not yet indexed. */
  insert(slot: number): void {
    if ((this.#size + 1) * 2 > this.#table.length) this.#rehash(this.#table.length * 2);
    this.#place(slot);
    this.#size++;
  }

  /** Removes `slot`, which must be indexed. */
  remove(slot: number): void {
    const table = this.#table;
    const mask = this.#mask;
    const ids = this.#store.id;
    const pools = this.#store.pool;
    let i = hash(pools[slot]!, ids[slot]!) & mask;
    while (table[i] !== slot + 1) i = (i + 1) & mask;
    // Backward-shift: move later entries of the probe run into the hole when their home
    // position is at or before it, so lookups never need tombstones.
    let hole = i;
    for (;;) {
      i = (i + 1) & mask;
      const entry = table[i]!;
      if (entry === 0) break;
      const home = hash(pools[entry - 1]!, ids[entry - 1]!) & mask;
      if (((i - home) & mask) >= ((i - hole) & mask)) {
        table[hole] = entry;
        hole = i;
      }
    }
    table[hole] = 0;
    this.#size--;
  }

  #place(slot: number): void {
    const table = this.#table;
    const mask = this.#mask;
    let i = hash(this.#store.pool[slot]!, this.#store.id[slot]!) & mask;
    while (table[i] !== 0) i = (i + 1) & mask;
    table[i] = slot + 1;
  }

  #rehash(length: number): void {
    const old = this.#table;
    this.#table = new Int32Array(length);
    this.#mask = length - 1;
    for (const entry of old) if (entry !== 0) this.#place(entry - 1);
  }
}

/** Mixes a pool index and a PE identifier into 32 well-spread bits. */
function hash(pool: number, id: number): number {
  let h = Math.imul(id ^ Math.imul(pool, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  return Math.imul(h, 0xc2b2ae35) ^ (h >>> 16);
}
