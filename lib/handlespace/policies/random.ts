/**
 * Random (RFC 5356 §4.3): up to the requested number of members, uniformly at random, none
 * twice. A partial Fisher–Yates shuffle over the dense member array: O(1) per selected member.
 */
import { PolicyType } from "../../wire/codes.ts";
import type { KnownSelectionPolicy } from "../../wire/selection_policy.ts";
import type { ElementStore } from "../_store.ts";
import type { SelectionContext } from "../_selection_context.ts";
import { DenseSelector } from "./_dense.ts";
import type { PolicyDefinition, RandomSource } from "./policy.ts";

/** Uniform selection without replacement; it permutes the member order as it goes. */
class RandomSelector extends DenseSelector {
  readonly #random: RandomSource;

  /** Builds an empty selector drawing from `random`. */
  constructor(store: ElementStore, random: RandomSource) {
    super(store);
    this.#random = random;
  }

  /** Draws members without replacement until `count` eligible ones are found. */
  select(count: number, ctx: SelectionContext): number {
    const size = this.size;
    const out = ctx.out;
    let written = 0;
    for (let t = 0; t < size && written < count; t++) {
      // Positions before t hold the members drawn so far; draw from t … size-1.
      const j = t + Math.min(Math.floor(this.#random() * (size - t)), size - t - 1);
      if (j !== t) this.swap(t, j);
      const slot = this.slots[t]!;
      if (ctx.eligible(slot)) out[written++] = slot;
    }
    return written;
  }
}

/** Random (0x00000003). */
export const random: PolicyDefinition = {
  type: PolicyType.random,
  name: "Random",
  value1: () => 0,
  value2: () => 0,
  toPolicy: (): KnownSelectionPolicy => ({ type: PolicyType.random }),
  createSelector: (store: ElementStore, source: RandomSource) => new RandomSelector(store, source),
};
