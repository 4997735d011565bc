/**
 * Weighted Random (RFC 5356 §4.4) and Randomized Least Used (§5.4, weight = 0xffffffff − load):
 * up to the requested number of members, none twice, each draw with probability proportional
 * to its weight among the members not drawn yet. A Fenwick tree of weights over the member
 * positions makes each draw and each weight change O(log n).
 */
import { PolicyType } from "../../wire/codes.ts";
import type { KnownSelectionPolicy } from "../../wire/selection_policy.ts";
import { type ElementStore, withRoom } from "../_store.ts";
import type { SelectionContext } from "../_selection_context.ts";
import { DenseSelector } from "./_dense.ts";
import type { PolicyDefinition, RandomSource } from "./policy.ts";

const MAX_LOAD = 0xffffffff;

/** Weighted draws without replacement over a Fenwick tree. */
class WeightedRandomSelector extends DenseSelector {
  /** 1-based Fenwick tree over positions; sums stay exact integers below 2^53. */
  #tree = new Float64Array(5);
  /** Largest power of two ≤ the tree's size. */
  #topBit = 4;
  /** Sum of all weights. */
  #total = 0;
  /** Position scratch: members drawn in the current selection, to put back afterwards. */
  #drawn = new Int32Array(4);
  readonly #random: RandomSource;
  /** True for RLU: the weight is 0xffffffff − load (at least 1, as RSPLIB). */
  readonly #fromLoad: boolean;

  /** Builds an empty selector; `fromLoad` selects RLU's weight. */
  constructor(store: ElementStore, random: RandomSource, fromLoad: boolean) {
    super(store);
    this.#random = random;
    this.#fromLoad = fromLoad;
  }

  /** Appends a member and its weight. */
  override add(slot: number, value1: number, value2: number): void {
    const grown = this.size === this.slots.length;
    super.add(slot, value1, value2);
    if (grown) this.#rebuild();
    else this.#change(this.size - 1, this.#weightOf(slot));
    this.#total += this.#weightOf(slot);
  }

  /** Stores new values; the new weight counts from the next draw. */
  override update(slot: number, value1: number, value2: number): void {
    const before = this.#weightOf(slot);
    super.update(slot, value1, value2);
    const delta = this.#weightOf(slot) - before;
    this.#change(this.store.pos[slot]!, delta);
    this.#total += delta;
  }

  /** Removes a member; the last member's weight moves with it to the hole. */
  override remove(slot: number): void {
    const i = this.store.pos[slot]!;
    const last = this.size - 1;
    const weight = this.#weightOf(slot);
    this.#change(i, -weight);
    if (i !== last) {
      const moved = this.#weightOf(this.slots[last]!);
      this.#change(last, -moved);
      this.#change(i, moved);
    }
    this.#total -= weight;
    super.remove(slot);
  }

  /** Draws without replacement until `count` eligible members are found or no weight is left. */
  select(count: number, ctx: SelectionContext): number {
    const out = ctx.out;
    let written = 0;
    let drawn = 0;
    let total = this.#total;
    while (written < count && total > 0) {
      const position = this.#find(this.#random() * total);
      const slot = this.slots[position]!;
      const weight = this.#weightOf(slot);
      this.#drawn = withRoom(this.#drawn, drawn);
      this.#drawn[drawn++] = position;
      this.#change(position, -weight);
      total -= weight;
      if (ctx.eligible(slot)) out[written++] = slot;
    }
    for (let i = 0; i < drawn; i++) {
      const position = this.#drawn[i]!;
      this.#change(position, this.#weightOf(this.slots[position]!));
    }
    return written;
  }

  #weightOf(slot: number): number {
    const value = this.store.value1[slot]!;
    if (!this.#fromLoad) return value;
    return value === MAX_LOAD ? 1 : MAX_LOAD - value;
  }

  /** Adds `delta` to the weight at 0-based `position`. */
  #change(position: number, delta: number): void {
    const tree = this.#tree;
    const n = tree.length - 1;
    for (let i = position + 1; i <= n; i += i & -i) tree[i] = tree[i]! + delta;
  }

  /** The position whose weight interval holds `r` (0 ≤ r < sum of current weights). */
  #find(r: number): number {
    const tree = this.#tree;
    const n = tree.length - 1;
    let position = 0;
    for (let step = this.#topBit; step > 0; step >>= 1) {
      const next = position + step;
      if (next <= n && tree[next]! <= r) {
        position = next;
        r -= tree[next]!;
      }
    }
    // `random() * total` may round up to `total`: fall back to the last position with weight.
    if (position >= this.size) {
      position = this.size - 1;
      while (position > 0 && this.#pointWeight(position) === 0) position--;
    }
    return position;
  }

  /** The current (possibly drawn-down) weight at `position`, from two prefix sums. */
  #pointWeight(position: number): number {
    return this.#prefix(position + 1) - this.#prefix(position);
  }

  #prefix(count: number): number {
    let sum = 0;
    for (let i = count; i > 0; i -= i & -i) sum += this.#tree[i]!;
    return sum;
  }

  /** Rebuilds the tree for the member array's new capacity, in O(n). */
  #rebuild(): void {
    const n = this.slots.length;
    const tree = new Float64Array(n + 1);
    for (let i = 1; i <= this.size; i++) {
      tree[i] = tree[i]! + this.#weightOf(this.slots[i - 1]!);
      const parent = i + (i & -i);
      if (parent <= n) tree[parent] = tree[parent]! + tree[i]!;
    }
    for (let i = this.size + 1; i <= n; i++) {
      const parent = i + (i & -i);
      if (parent <= n) tree[parent] = tree[parent]! + tree[i]!;
    }
    this.#tree = tree;
    let top = 1;
    while (top * 2 <= n) top *= 2;
    this.#topBit = top;
  }
}

/** Weighted Random (0x00000004). */
export const weightedRandom: PolicyDefinition = {
  type: PolicyType.weightedRandom,
  name: "WeightedRandom",
  value1: (policy: KnownSelectionPolicy) => "weight" in policy ? policy.weight : 0,
  value2: () => 0,
  toPolicy: (value1: number): KnownSelectionPolicy => ({
    type: PolicyType.weightedRandom,
    weight: value1,
  }),
  createSelector: (store: ElementStore, random: RandomSource) =>
    new WeightedRandomSelector(store, random, false),
};

/** Randomized Least Used (0x40000004). */
export const randomizedLeastUsed: PolicyDefinition = {
  type: PolicyType.randomizedLeastUsed,
  name: "RandomizedLeastUsed",
  value1: (policy: KnownSelectionPolicy) => "load" in policy ? policy.load : 0,
  value2: () => 0,
  toPolicy: (value1: number): KnownSelectionPolicy => ({
    type: PolicyType.randomizedLeastUsed,
    load: value1,
  }),
  createSelector: (store: ElementStore, random: RandomSource) =>
    new WeightedRandomSelector(store, random, true),
};
