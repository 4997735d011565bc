/**
 * Folder-private: members kept in a dense array (position = `store.pos[slot]`) with O(1)
 * append and swap-with-last removal. Base of the round robin and random policies.
 */
import { type ElementStore, withRoom } from "../_store.ts";
import type { SelectionContext } from "../_selection_context.ts";
import type { PoolSelector } from "./policy.ts";

/** A pool selector over a dense member array; subclasses add the selection. */
export abstract class DenseSelector implements PoolSelector {
  /** Member slots; positions 0 … size-1 are used. */
  protected slots = new Int32Array(4);
  /** Members of the pool. */
  size = 0;
  /** The handlespace's element store. */
  protected readonly store: ElementStore;

  /** Builds an empty selector over `store`. */
  constructor(store: ElementStore) {
    this.store = store;
  }

  /** The members' slots, in array order. */
  *members(): IterableIterator<number> {
    for (let i = 0; i < this.size; i++) yield this.slots[i]!;
  }

  /** Appends a member. */
  add(slot: number, value1: number, value2: number): void {
    this.slots = withRoom(this.slots, this.size);
    this.slots[this.size] = slot;
    this.store.pos[slot] = this.size++;
    this.store.value1[slot] = value1;
    this.store.value2[slot] = value2;
  }

  /** Stores new policy values. */
  update(slot: number, value1: number, value2: number): void {
    this.store.value1[slot] = value1;
    this.store.value2[slot] = value2;
  }

  /** Removes a member: the last member takes its position. */
  remove(slot: number): void {
    const i = this.store.pos[slot]!;
    const last = --this.size;
    if (i !== last) {
      const moved = this.slots[last]!;
      this.slots[i] = moved;
      this.store.pos[moved] = i;
    }
  }

  /** Swaps the members at positions `a` and `b`. */
  protected swap(a: number, b: number): void {
    const sa = this.slots[a]!;
    const sb = this.slots[b]!;
    this.slots[a] = sb;
    this.slots[b] = sa;
    this.store.pos[sb] = a;
    this.store.pos[sa] = b;
  }

  /** Writes up to `count` distinct eligible members to `ctx.out`. */
  abstract select(count: number, ctx: SelectionContext): number;
}
