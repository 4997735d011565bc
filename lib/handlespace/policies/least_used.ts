/**
 * The least-used family (RFC 5356 §5.1–§5.3): Least Used (key = load), Priority Least Used
 * (key = load + load degradation) and Least Used with Degradation (key = load + counter × load
 * degradation, the counter counting the PE's selections since its last (re-)registration;
 * DECISIONS.md). Members are reported in ascending key order; equal keys take turns.
 */
import { PolicyType } from "../../wire/codes.ts";
import type { KnownSelectionPolicy } from "../../wire/selection_policy.ts";
import type { ElementStore } from "../_store.ts";
import { noState, OrderedSelector, type OrderRules } from "./_ordered.ts";
import type { PolicyDefinition } from "./policy.ts";

const LEAST_USED_RULES: OrderRules = {
  key: (store, slot) => store.value1[slot]!,
  restart: noState,
  advance: noState,
  advanceAll: false,
};

const PRIORITY_LEAST_USED_RULES: OrderRules = {
  key: (store, slot) => store.value1[slot]! + store.value2[slot]!,
  restart: noState,
  advance: noState,
  advanceAll: false,
};

const LEAST_USED_DEGRADATION_RULES: OrderRules = {
  // a float: counter × degradation may pass 2^32
  key: (store, slot) => store.value1[slot]! + store.state[slot]! * store.value2[slot]!,
  // RFC 5356 §5.2.2: the counter is set to 0 by every registration and re-registration …
  restart: (store, slot) => {
    store.state[slot] = 0;
  },
  // … and incremented for every entry selected for being returned to a pool user.
  advance: (store, slot) => {
    store.state[slot] = store.state[slot]! + 1;
  },
  advanceAll: true,
};

/** The load of an LU/RLU policy, or of the load-degradation family. */
function loadOf(policy: KnownSelectionPolicy): number {
  return "load" in policy ? policy.load : 0;
}

/** The load degradation of the load-degradation family. */
function loadDegradationOf(policy: KnownSelectionPolicy): number {
  return "loadDegradation" in policy ? policy.loadDegradation : 0;
}

/** Least Used (0x40000001). */
export const leastUsed: PolicyDefinition = {
  type: PolicyType.leastUsed,
  name: "LeastUsed",
  value1: loadOf,
  value2: () => 0,
  toPolicy: (value1: number): KnownSelectionPolicy => ({
    type: PolicyType.leastUsed,
    load: value1,
  }),
  createSelector: (store: ElementStore) => new OrderedSelector(store, LEAST_USED_RULES),
};

/** A policy of the load-degradation family with `rules`. */
function loadDegradationPolicy(
  type: typeof PolicyType.leastUsedDegradation | typeof PolicyType.priorityLeastUsed,
  name: string,
  rules: OrderRules,
): PolicyDefinition {
  return {
    type,
    name,
    value1: loadOf,
    value2: loadDegradationOf,
    toPolicy: (value1: number, value2: number): KnownSelectionPolicy => ({
      type,
      load: value1,
      loadDegradation: value2,
    }),
    createSelector: (store: ElementStore) => new OrderedSelector(store, rules),
  };
}

/** Least Used with Degradation (0x40000002). */
export const leastUsedDegradation: PolicyDefinition = loadDegradationPolicy(
  PolicyType.leastUsedDegradation,
  "LeastUsedDegradation",
  LEAST_USED_DEGRADATION_RULES,
);

/** Priority Least Used (0x40000003). */
export const priorityLeastUsed: PolicyDefinition = loadDegradationPolicy(
  PolicyType.priorityLeastUsed,
  "PriorityLeastUsed",
  PRIORITY_LEAST_USED_RULES,
);
