/**
 * Priority (RFC 5356 §4.5): the members with the highest priorities, in decreasing order;
 * members of equal priority take turns (the first one selected goes behind its equals).
 */
import { PolicyType } from "../../wire/codes.ts";
import type { KnownSelectionPolicy } from "../../wire/selection_policy.ts";
import type { ElementStore } from "../_store.ts";
import { noState, OrderedSelector, type OrderRules } from "./_ordered.ts";
import type { PolicyDefinition } from "./policy.ts";

const PRIORITY_RULES: OrderRules = {
  key: (store, slot) => -store.value1[slot]!,
  restart: noState,
  advance: noState,
  advanceAll: false,
};

/** Priority (0x00000005). */
export const priority: PolicyDefinition = {
  type: PolicyType.priority,
  name: "Priority",
  value1: (policy: KnownSelectionPolicy) =>
    policy.type === PolicyType.priority ? policy.priority : 0,
  value2: () => 0,
  toPolicy: (value1: number): KnownSelectionPolicy => ({
    type: PolicyType.priority,
    priority: value1,
  }),
  createSelector: (store: ElementStore) => new OrderedSelector(store, PRIORITY_RULES),
};
