/**
 * Weighted Round Robin (RFC 5356 §4.2): member occurrences per round in the ratio of their
 * weights, spread as evenly as possible. Instead of materialising the circular list (Σ weights
 * entries), each member's k-th occurrence in the schedule that started at virtual time `base`
 * is at `base + (k - ½) / weight` (stride scheduling): the heap yields occurrences in schedule order,
 * so over each whole round (Σ weights selections) every member appears exactly `weight` times.
 * Weight 0 means "cannot serve" (RFC 5356 §3.2): key Infinity, never selected.
 */
import { PolicyType } from "../../wire/codes.ts";
import type { KnownSelectionPolicy } from "../../wire/selection_policy.ts";
import type { ElementStore } from "../_store.ts";
import { OrderedSelector, type OrderRules } from "./_ordered.ts";
import type { PolicyDefinition } from "./policy.ts";

const WEIGHTED_ROUND_ROBIN_RULES: OrderRules = {
  // The k-th occurrence sits in the middle of the k-th of `weight` equal intervals of a round,
  // (k - ½) / weight, which spreads turns more evenly than k / weight (all PEs' last turns would
  // fall together at the round's end). The division is correctly rounded, so equal occurrences
  // tie exactly and rounds stay whole.
  key: (store, slot) => store.base[slot]! + (store.state[slot]! - 0.5) / store.value1[slot]!,
  // A new member, or one whose weight changed, starts a fresh schedule at the current time.
  restart: (store, slot, changed, now) => {
    if (!changed) return;
    store.base[slot] = now;
    store.state[slot] = 1;
  },
  // The first member selected moves on to its next occurrence (the head advances by one).
  advance: (store, slot) => {
    store.state[slot] = store.state[slot]! + 1;
  },
  advanceAll: false,
};

/** Weighted Round Robin (0x00000002). */
export const weightedRoundRobin: PolicyDefinition = {
  type: PolicyType.weightedRoundRobin,
  name: "WeightedRoundRobin",
  value1: (policy: KnownSelectionPolicy) => "weight" in policy ? policy.weight : 0,
  value2: () => 0,
  toPolicy: (value1: number): KnownSelectionPolicy => ({
    type: PolicyType.weightedRoundRobin,
    weight: value1,
  }),
  createSelector: (store: ElementStore) => new OrderedSelector(store, WEIGHTED_ROUND_ROBIN_RULES),
};
