/**
 * Folder-private: members kept in an indexed binary heap ordered by a policy key and a
 * sequence number. Serves the ordered policies (WRR, PRIO, LU, PLU, LUD): a selection reads the
 * first members in order without disturbing the heap, then re-keys the ones the policy says.
 *
 * One class for all of them, told apart by an {@linkcode OrderRules} value: with a subclass per
 * policy, V8's inline caches in the shared methods would see five receiver shapes and turn
 * megamorphic when several policies run in one process.
 */
import type { ElementStore } from "../_store.ts";
import type { SelectionContext } from "../_selection_context.ts";
import { firstInOrder, TicketHeap } from "../_heap.ts";
import type { PoolSelector } from "./policy.ts";

/** What makes one ordered policy: its key and how its per-PE state evolves. */
export interface OrderRules {
  /** The key of `slot` from its values and state; smaller keys are selected first. */
  readonly key: (store: ElementStore, slot: number) => number;
  /**
   * Resets the per-PE state on (re-)registration. `changed` is true for a new member or new
   * policy values; `now` is the pool's virtual time (the key of the latest selection).
   */
  readonly restart: (store: ElementStore, slot: number, changed: boolean, now: number) => void;
  /** Advances the per-PE state of a member just selected (before it is re-keyed). */
  readonly advance: (store: ElementStore, slot: number) => void;
  /** True: every selected member is advanced and re-keyed; false: the first one only. */
  readonly advanceAll: boolean;
}

/** No per-PE state. */
export function noState(): void {}

/** A pool selector over a heap of (policy key, ticket). */
export class OrderedSelector implements PoolSelector {
  readonly #heap = new TicketHeap();
  /** The key of the latest selected member (WRR's virtual time). */
  #now = 0;
  readonly #store: ElementStore;
  readonly #rules: OrderRules;

  /** Builds an empty selector over `store` following `rules`. */
  constructor(store: ElementStore, rules: OrderRules) {
    this.#store = store;
    this.#rules = rules;
  }

  /** Members of the pool. */
  get size(): number {
    return this.#heap.live;
  }

  /** The members' slots, in heap order. */
  members(): IterableIterator<number> {
    return this.#heap.liveSlots(this.#store.ticket);
  }

  /** Adds a member behind the members with an equal key. */
  add(slot: number, value1: number, value2: number): void {
    const store = this.#store;
    store.value1[slot] = value1;
    store.value2[slot] = value2;
    this.#rules.restart(store, slot, true, this.#now);
    this.#push(slot);
  }

  /**
   * Stores new values and resets the per-PE state; a member whose key changed goes to its new
   * place behind its new equals.
   */
  update(slot: number, value1: number, value2: number): void {
    const store = this.#store;
    const rules = this.#rules;
    const before = rules.key(store, slot);
    const changed = store.value1[slot] !== value1 || store.value2[slot] !== value2;
    store.value1[slot] = value1;
    store.value2[slot] = value2;
    rules.restart(store, slot, changed, this.#now);
    const key = rules.key(store, slot);
    if (key === before) return;
    const ticket = store.nextTicket++;
    store.ticket[slot] = ticket;
    this.#heap.staled(store.ticket);
    this.#heap.push(slot, key, ticket);
  }

  /** Removes a member (its heap entry goes stale). */
  remove(slot: number): void {
    this.#store.ticket[slot] = -1;
    this.#heap.staled(this.#store.ticket);
  }

  /**
   * The first `count` eligible members in key order. Then the first one (or every one, by the
   * rules) advances its state and goes behind the members with an equal key: round robin among
   * equals (RFC 5356 §4.5–§5.3), one member re-keyed per selection as RSPLIB does.
   */
  select(count: number, ctx: SelectionContext): number {
    const heap = this.#heap;
    const store = this.#store;
    const current = store.ticket;
    heap.dropStaleTop(current);
    const written = firstInOrder(heap, count, ctx, current);
    if (written === 0) return 0;
    const rules = this.#rules;
    const positions = ctx.positions;
    const n = rules.advanceAll ? written : 1;
    // A sift-down at position p moves only entries below p: re-key the deepest first, so the
    // positions still to do stay valid.
    if (n > 1) sortDescending(positions, n);
    for (let i = 0; i < n; i++) {
      const position = positions[i]!;
      const slot = heap.slots[position]!;
      this.#now = heap.keys[position]!;
      rules.advance(store, slot);
      const ticket = store.nextTicket++;
      current[slot] = ticket;
      heap.sinkAt(position, rules.key(store, slot), ticket);
    }
    return written;
  }

  #push(slot: number): void {
    const store = this.#store;
    const ticket = store.nextTicket++;
    store.ticket[slot] = ticket;
    this.#heap.push(slot, this.#rules.key(store, slot), ticket);
  }
}

/** Sorts `a[0 … n-1]` in descending order (n is a handful). */
function sortDescending(a: Int32Array, n: number): void {
  for (let i = 1; i < n; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! < v) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
}
