/**
 * Pool Member Selection Policy parameter values (RFC 5354 §3.8, RFC 5356 §4–§5, RSPLIB's
 * private 0xb000xxxx policies). Loads and load degradations are u32 fractions of 0xffffffff.
 */
import { PolicyType } from "./codes.ts";

/** Round Robin or Random: no policy value. */
export interface PlainPolicy {
  readonly type: typeof PolicyType.roundRobin | typeof PolicyType.random;
}

/** Weighted Round Robin or Weighted Random: a weight (0 = cannot serve). */
export interface WeightedPolicy {
  readonly type: typeof PolicyType.weightedRoundRobin | typeof PolicyType.weightedRandom;
  readonly weight: number;
}

/** Priority: larger numbers are preferred. */
export interface PriorityPolicy {
  readonly type: typeof PolicyType.priority;
  readonly priority: number;
}

/** Least Used or Randomized Least Used: a load. */
export interface LoadPolicy {
  readonly type: typeof PolicyType.leastUsed | typeof PolicyType.randomizedLeastUsed;
  readonly load: number;
}

/** The load-plus-degradation family: LUD, PLU and RSPLIB's randomized/priority variants. */
export interface LoadDegradationPolicy {
  readonly type:
    | typeof PolicyType.leastUsedDegradation
    | typeof PolicyType.priorityLeastUsed
    | typeof PolicyType.randomizedPriorityLeastUsed
    | typeof PolicyType.randomizedLeastUsedDegradation
    | typeof PolicyType.priorityLeastUsedDegradation
    | typeof PolicyType.randomizedPriorityLeastUsedDegradation;
  readonly load: number;
  readonly loadDegradation: number;
}

/** Weighted Random with Distance Penalty Factor (draft-dreibholz-rserpool-delay). */
export interface WeightedRandomDpfPolicy {
  readonly type: typeof PolicyType.weightedRandomDpf;
  readonly weight: number;
  readonly weightDpf: number;
  readonly distance: number;
}

/** Least Used with Distance Penalty Factor (draft-dreibholz-rserpool-delay). */
export interface LeastUsedDpfPolicy {
  readonly type: typeof PolicyType.leastUsedDpf;
  readonly load: number;
  readonly loadDpf: number;
  readonly distance: number;
}

/** RSPLIB's degradation and priority variants of LU-DPF. */
export interface LoadDegradationDpfPolicy {
  readonly type:
    | typeof PolicyType.leastUsedDegradationDpf
    | typeof PolicyType.priorityLeastUsedDpf
    | typeof PolicyType.priorityLeastUsedDegradationDpf;
  readonly load: number;
  readonly loadDegradation: number;
  readonly loadDpf: number;
  readonly distance: number;
}

/** Every policy whose layout Poolgate knows. */
export type KnownSelectionPolicy =
  | PlainPolicy
  | WeightedPolicy
  | PriorityPolicy
  | LoadPolicy
  | LoadDegradationPolicy
  | WeightedRandomDpfPolicy
  | LeastUsedDpfPolicy
  | LoadDegradationDpfPolicy;

/** A policy of a type Poolgate does not know, kept as its raw value bytes (a copy). */
export interface OpaqueSelectionPolicy {
  readonly type: number;
  readonly opaque: Uint8Array;
}

/** A decoded Pool Member Selection Policy parameter. */
export type SelectionPolicy = KnownSelectionPolicy | OpaqueSelectionPolicy;

/** Tells a known policy from an opaque one, so that `switch (policy.type)` narrows. */
export function isKnownPolicy(policy: SelectionPolicy): policy is KnownSelectionPolicy {
  return !("opaque" in policy);
}
