/**
 * Folder-private: a binary min-heap of slots ordered by `(key, ticket)`, with lazy deletion.
 *
 * Each entry carries a *ticket*: a number unique in the handlespace. An entry is live while
 * `tickets[slot]` still equals its ticket; removing or re-keying a slot just gives it a new
 * ticket (re-keying pushes a new entry), and stale entries are dropped when they reach the top
 * or when the heap is rebuilt. Keeping a slot → position index current on every move would cost
 * a random write per level of each sift, which measured about 2.5 times slower with 10 000 PEs.
 * The ticket also breaks ties: among equal keys the entry pushed first comes first.
 */
import type { SelectionContext } from "./_selection_context.ts";

/** Stale entries tolerated beyond the live ones before a rebuild. */
const STALE_SLACK = 64;

/** True when `(ka, ta)` comes before `(kb, tb)`. */
function less(ka: number, ta: number, kb: number, tb: number): boolean {
  return ka < kb || (ka === kb && ta < tb);
}

/** A min-heap of slots by `(key, ticket)` with lazy deletion. */
export class TicketHeap {
  /** Slots in heap order. */
  slots: Int32Array<ArrayBuffer> = new Int32Array(4);
  /** Keys in heap order. */
  keys: Float64Array<ArrayBuffer> = new Float64Array(4);
  /** Tickets in heap order. */
  tickets: Float64Array<ArrayBuffer> = new Float64Array(4);
  /** Entries, live and stale. */
  size = 0;
  /** Live entries. */
  live = 0;

  /** Adds a live entry. */
  push(slot: number, key: number, ticket: number): void {
    if (this.size === this.slots.length) this.#grow();
    this.live++;
    this.#siftUp(this.size++, slot, key, ticket);
  }

  /** Counts one entry gone stale (its slot was removed or re-keyed) and rebuilds if many are. */
  staled(current: Float64Array): void {
    this.live--;
    if (this.live === 0) this.size = 0;
    else if (this.size - this.live > this.live + STALE_SLACK) this.#rebuild(current);
  }

  /** Drops stale entries from the top, so that the root (if any) is live. */
  dropStaleTop(current: Float64Array): void {
    while (this.size > 0 && current[this.slots[0]!] !== this.tickets[0]) this.#removeRoot();
  }

  /** Removes the (live) root. */
  popRoot(): void {
    this.live--;
    this.#removeRoot();
  }

  /** Gives the entry at `position` a key and ticket that come no earlier than its old ones. */
  sinkAt(position: number, key: number, ticket: number): void {
    this.#siftDown(position, this.slots[position]!, key, ticket);
  }

  /** The live slots, in heap order. */
  *liveSlots(current: Float64Array): IterableIterator<number> {
    for (let i = 0; i < this.size; i++) {
      const slot = this.slots[i]!;
      if (current[slot] === this.tickets[i]) yield slot;
    }
  }

  #removeRoot(): void {
    const last = --this.size;
    if (last > 0) this.#siftDown(0, this.slots[last]!, this.keys[last]!, this.tickets[last]!);
  }

  #siftUp(i: number, slot: number, key: number, ticket: number): void {
    const slots = this.slots;
    const keys = this.keys;
    const tickets = this.tickets;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(key, ticket, keys[parent]!, tickets[parent]!)) break;
      slots[i] = slots[parent]!;
      keys[i] = keys[parent]!;
      tickets[i] = tickets[parent]!;
      i = parent;
    }
    slots[i] = slot;
    keys[i] = key;
    tickets[i] = ticket;
  }

  #siftDown(i: number, slot: number, key: number, ticket: number): void {
    const slots = this.slots;
    const keys = this.keys;
    const tickets = this.tickets;
    const size = this.size;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      // `less` written out: this loop is the hottest code of the ordered policies
      let ck = keys[child]!;
      const right = child + 1;
      if (right < size) {
        const rk = keys[right]!;
        if (rk < ck || (rk === ck && tickets[right]! < tickets[child]!)) {
          child = right;
          ck = rk;
        }
      }
      if (ck > key || (ck === key && tickets[child]! > ticket)) break;
      slots[i] = slots[child]!;
      keys[i] = ck;
      tickets[i] = tickets[child]!;
      i = child;
    }
    slots[i] = slot;
    keys[i] = key;
    tickets[i] = ticket;
  }

  /** Keeps the live entries and restores heap order bottom-up, in O(n). */
  #rebuild(current: Float64Array): void {
    let n = 0;
    for (let i = 0; i < this.size; i++) {
      const slot = this.slots[i]!;
      if (current[slot] !== this.tickets[i]) continue;
      this.slots[n] = slot;
      this.keys[n] = this.keys[i]!;
      this.tickets[n] = this.tickets[i]!;
      n++;
    }
    this.size = n;
    for (let i = (n >> 1) - 1; i >= 0; i--) {
      this.#siftDown(i, this.slots[i]!, this.keys[i]!, this.tickets[i]!);
    }
  }

  #grow(): void {
    const length = this.slots.length * 2;
    const slots = new Int32Array(length);
    const keys = new Float64Array(length);
    const tickets = new Float64Array(length);
    slots.set(this.slots);
    keys.set(this.keys);
    tickets.set(this.tickets);
    this.slots = slots;
    this.keys = keys;
    this.tickets = tickets;
  }
}

/**
 * Writes the first `count` (≥ 1) live, eligible slots of `heap`, in order, to `ctx.out` (their
 * heap positions to `ctx.positions`) without changing the heap, and returns how many it wrote.
 * The root must be live ({@linkcode TicketHeap.dropStaleTop}). A best-first search over
 * positions (a small heap of positions in `ctx.frontier`) reads O(count · log count) entries
 * when nothing is skipped. A key of Infinity (a weight-0 WRR member) ends the search: every
 * later key is Infinity too.
 */
export function firstInOrder(
  heap: TicketHeap,
  count: number,
  ctx: SelectionContext,
  current: Float64Array,
): number {
  const slots = heap.slots;
  const keys = heap.keys;
  const tickets = heap.tickets;
  const size = heap.size;
  const out = ctx.out;
  const positions = ctx.positions;
  if (size === 0 || keys[0] === Infinity) return 0;
  let written = 0;
  if (ctx.eligible(slots[0]!)) {
    out[0] = slots[0]!;
    positions[0] = 0;
    written = 1;
    if (count === 1) return 1;
  }
  if (count <= SMALL_COUNT) {
    const found = firstFewInOrder(heap, count, ctx, current, written);
    if (found >= 0) return found;
  }
  let frontier: Int32Array = ctx.frontier;
  let n = 0;
  let p = 0;
  for (;;) {
    // push the children of p
    if (n + 2 > frontier.length) frontier = ctx.growFrontier();
    for (let child = 2 * p + 1; child <= 2 * p + 2 && child < size; child++) {
      const ck = keys[child]!;
      const ct = tickets[child]!;
      let i = n++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        const q = frontier[parent]!;
        const qk = keys[q]!;
        if (ck > qk || (ck === qk && ct > tickets[q]!)) break;
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
      const lt = tickets[lastPos]!;
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        let cp = frontier[c]!;
        if (c + 1 < n) {
          const rp = frontier[c + 1]!;
          if (less(keys[rp]!, tickets[rp]!, keys[cp]!, tickets[cp]!)) {
            c++;
            cp = rp;
          }
        }
        if (!less(keys[cp]!, tickets[cp]!, lk, lt)) break;
        frontier[i] = cp;
        i = c;
      }
      frontier[i] = lastPos;
    }
    if (keys[p] === Infinity) break;
    const slot = slots[p]!;
    if (current[slot] === tickets[p] && ctx.eligible(slot)) {
      out[written] = slot;
      positions[written++] = p;
      if (written === count) break;
    }
  }
  return written;
}

/** Largest count served by {@linkcode firstFewInOrder}. */
const SMALL_COUNT = 4;
/** Candidates {@linkcode firstFewInOrder} holds before it gives up (≤ the frontier's length). */
const SMALL_FRONTIER = 12;

/**
 * {@linkcode firstInOrder} after the root for a handful of PEs (a handle resolution asks for
 * about three): the candidates are few, so a linear scan beats keeping them in a heap. Returns
 * the number written, or -1 when too many entries were skipped (then the caller searches).
 */
function firstFewInOrder(
  heap: TicketHeap,
  count: number,
  ctx: SelectionContext,
  current: Float64Array,
  written: number,
): number {
  const slots = heap.slots;
  const keys = heap.keys;
  const tickets = heap.tickets;
  const size = heap.size;
  const frontier = ctx.frontier;
  let n = 0;
  let p = 0;
  for (;;) {
    if (2 * p + 1 < size) frontier[n++] = 2 * p + 1;
    if (2 * p + 2 < size) frontier[n++] = 2 * p + 2;
    if (n === 0) return written;
    if (n > SMALL_FRONTIER) return -1;
    let best = 0;
    let bk = keys[frontier[0]!]!;
    for (let i = 1; i < n; i++) {
      const k = keys[frontier[i]!]!;
      if (k < bk || (k === bk && tickets[frontier[i]!]! < tickets[frontier[best]!]!)) {
        best = i;
        bk = k;
      }
    }
    p = frontier[best]!;
    frontier[best] = frontier[--n]!;
    if (bk === Infinity) return written;
    const slot = slots[p]!;
    if (current[slot] === tickets[p] && ctx.eligible(slot)) {
      ctx.out[written] = slot;
      ctx.positions[written++] = p;
      if (written === count) return written;
    }
  }
}
