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
import { firstInOrder, IndexedHeap } from "../_heap.ts";
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

/** A pool selector over a heap of (policy key, sequence number). */
export class OrderedSelector implements PoolSelector {
  readonly #heap = new IndexedHeap();
  /** The next tie-break sequence number: a re-keyed member goes behind its equals. */
  #nextSeq = 0;
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
    return this.#heap.size;
  }

  /** The slot at heap position `position`. */
  memberAt(position: number): number {
    return this.#heap.slots[position]!;
  }

  /** Adds a member behind the members with an equal key. */
  add(slot: number, value1: number, value2: number): void {
    const store = this.#store;
    store.value1[slot] = value1;
    store.value2[slot] = value2;
    this.#rules.restart(store, slot, true, this.#now);
    this.#heap.push(store.pos, slot, this.#rules.key(store, slot), this.#nextSeq++);
  }

  /** Stores new values, resets the per-PE state and moves the member to its new place. */
  update(slot: number, value1: number, value2: number): void {
    const store = this.#store;
    const changed = store.value1[slot] !== value1 || store.value2[slot] !== value2;
    store.value1[slot] = value1;
    store.value2[slot] = value2;
    this.#rules.restart(store, slot, changed, this.#now);
    const key = this.#rules.key(store, slot);
    const position = store.pos[slot]!;
    const heap = this.#heap;
    if (key !== heap.keys[position]) heap.change(store.pos, position, key, heap.ties[position]!);
  }

  /** Removes a member. */
  remove(slot: number): void {
    this.#heap.removeAt(this.#store.pos, this.#store.pos[slot]!);
  }

  /**
   * The first `count` eligible members in key order. Then the first one (or every one, by the
   * rules) advances its state and goes behind the members with an equal key: round robin among
   * equals (RFC 5356 §4.5–§5.3), one member re-keyed per selection as RSPLIB does.
   */
  select(count: number, ctx: SelectionContext): number {
    const heap = this.#heap;
    const written = firstInOrder(heap, count, ctx);
    if (written === 0) return 0;
    const store = this.#store;
    const pos = store.pos;
    const rules = this.#rules;
    const out = ctx.out;
    const last = rules.advanceAll ? written : 1;
    for (let i = 0; i < last; i++) {
      const slot = out[i]!;
      const position = pos[slot]!;
      this.#now = heap.keys[position]!;
      rules.advance(store, slot);
      heap.change(pos, position, rules.key(store, slot), this.#nextSeq++);
    }
    return written;
  }
}
