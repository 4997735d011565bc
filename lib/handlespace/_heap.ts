/**
 * Folder-private: an indexed binary min-heap of slots ordered by `(key, tie)`.
 *
 * Keys and ties live in heap order next to the slots, so a sift compares neighbouring entries
 * instead of chasing slots through the store; `pos[slot]` (an array of the caller's, passed to
 * each call because the store replaces its arrays when it grows) follows every move, so a slot
 * can be re-keyed or removed in O(log n). One class serves the ordered selection policies
 * (key, sequence number) and the handlespace's expiry heap (expiry, last update), so its
 * methods stay monomorphic.
 */
import type { SelectionContext } from "./_selection_context.ts";

/** True when `(ka, ta)` comes before `(kb, tb)`. */
function less(ka: number, ta: number, kb: number, tb: number): boolean {
  return ka < kb || (ka === kb && ta < tb);
}

/** A min-heap of slots by `(key, tie)`. */
export class IndexedHeap {
  /** Slots in heap order. */
  slots = new Int32Array(4);
  /** Keys in heap order. */
  keys = new Float64Array(4);
  /** Tie-breaks in heap order. */
  ties = new Float64Array(4);
  /** Slots in the heap. */
  size = 0;

  /** The key of the slot at `position`. */
  keyAt(position: number): number {
    return this.keys[position]!;
  }

  /** Adds `slot` with `key` and `tie`. */
  push(pos: Int32Array, slot: number, key: number, tie: number): void {
    if (this.size === this.slots.length) this.#grow();
    this.#siftUp(pos, this.size++, slot, key, tie);
  }

  /** Gives the slot at `position` a new key and tie, and moves it to its place. */
  change(pos: Int32Array, position: number, key: number, tie: number): void {
    this.#place(pos, position, this.slots[position]!, key, tie);
  }

  /** Removes the slot at `position`: the last entry fills the hole and moves to its place. */
  removeAt(pos: Int32Array, position: number): void {
    const last = --this.size;
    if (position === last) return;
    this.#place(pos, position, this.slots[last]!, this.keys[last]!, this.ties[last]!);
  }

  /** Puts `slot` with `key` and `tie` into the hole at `i`, sifting whichever way it must. */
  #place(pos: Int32Array, i: number, slot: number, key: number, tie: number): void {
    if (!this.#siftUp(pos, i, slot, key, tie)) this.#siftDown(pos, i, slot, key, tie);
  }

  /** Fills the hole at `i` with the entry going up; returns false when it did not move. */
  #siftUp(pos: Int32Array, i: number, slot: number, key: number, tie: number): boolean {
    const start = i;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(key, tie, this.keys[parent]!, this.ties[parent]!)) break;
      this.#move(pos, parent, i);
      i = parent;
    }
    this.#put(pos, i, slot, key, tie);
    return i !== start;
  }

  #siftDown(pos: Int32Array, i: number, slot: number, key: number, tie: number): void {
    const keys = this.keys;
    const ties = this.ties;
    const size = this.size;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      const right = child + 1;
      if (right < size && less(keys[right]!, ties[right]!, keys[child]!, ties[child]!)) {
        child = right;
      }
      if (!less(keys[child]!, ties[child]!, key, tie)) break;
      this.#move(pos, child, i);
      i = child;
    }
    this.#put(pos, i, slot, key, tie);
  }

  /** Copies the entry at `from` to `to`. */
  #move(pos: Int32Array, from: number, to: number): void {
    const slot = this.slots[from]!;
    this.slots[to] = slot;
    this.keys[to] = this.keys[from]!;
    this.ties[to] = this.ties[from]!;
    pos[slot] = to;
  }

  #put(pos: Int32Array, i: number, slot: number, key: number, tie: number): void {
    this.slots[i] = slot;
    this.keys[i] = key;
    this.ties[i] = tie;
    pos[slot] = i;
  }

  #grow(): void {
    const length = this.slots.length * 2;
    const slots = new Int32Array(length);
    const keys = new Float64Array(length);
    const ties = new Float64Array(length);
    slots.set(this.slots);
    keys.set(this.keys);
    ties.set(this.ties);
    this.slots = slots;
    this.keys = keys;
    this.ties = ties;
  }
}

/**
 * Writes the first `count` (≥ 1) eligible slots of `heap`, in order, to `ctx.out` without
 * changing the heap, and returns how many it wrote. A best-first search over positions (a small
 * heap of positions in `ctx.frontier`) reads O(count · log count) entries when nothing is
 * skipped. A key of Infinity (a weight-0 WRR member) ends the search: every later key is too.
 */
export function firstInOrder(heap: IndexedHeap, count: number, ctx: SelectionContext): number {
  const slots = heap.slots;
  const keys = heap.keys;
  const ties = heap.ties;
  const size = heap.size;
  const out = ctx.out;
  if (size === 0) return 0;
  if (keys[0] === Infinity) return 0;
  let written = 0;
  if (ctx.eligible(slots[0]!)) {
    out[0] = slots[0]!;
    written = 1;
    if (count === 1) return 1;
  }
  let frontier: Int32Array = ctx.frontier;
  let n = 0;
  let p = 0;
  for (;;) {
    // push the children of p
    if (n + 2 > frontier.length) frontier = ctx.growFrontier();
    for (let child = 2 * p + 1; child <= 2 * p + 2 && child < size; child++) {
      const ck = keys[child]!;
      const ct = ties[child]!;
      let i = n++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        const q = frontier[parent]!;
        if (!less(ck, ct, keys[q]!, ties[q]!)) break;
        frontier[i] = q;
        i = parent;
      }
      frontier[i] = child;
    }
    if (n === 0) break;
    // pop the best position: the frontier's last entry sifts down from the root
    p = frontier[0]!;
    n--;
    if (n > 0) {
      const lastPos = frontier[n]!;
      const lk = keys[lastPos]!;
      const lt = ties[lastPos]!;
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        let cp = frontier[c]!;
        if (c + 1 < n) {
          const rp = frontier[c + 1]!;
          if (less(keys[rp]!, ties[rp]!, keys[cp]!, ties[cp]!)) {
            c++;
            cp = rp;
          }
        }
        if (!less(keys[cp]!, ties[cp]!, lk, lt)) break;
        frontier[i] = cp;
        i = c;
      }
      frontier[i] = lastPos;
    }
    if (keys[p] === Infinity) break;
    const slot = slots[p]!;
    if (ctx.eligible(slot)) {
      out[written++] = slot;
      if (written === count) break;
    }
  }
  return written;
}
