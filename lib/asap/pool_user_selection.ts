/**
 * How a pool user picks one pool element from the list a Handle Resolution returned, by the
 * pool's member selection policy (RFC 5356's "Pool User Considerations", spec rfc-notes §6).
 * Pure: the round-robin position and the random source come in as arguments.
 *
 * @module
 */
import { PolicyType } from "../wire/codes.ts";
import type { PoolElementParameter } from "../wire/parameters.ts";
import type { SelectionPolicy } from "../wire/selection_policy.ts";

/** Largest load (RFC 5356 §3.1: 0xffffffff is fully used). */
const FULL_LOAD = 0xffffffff;

/** How {@linkcode selectPoolElement} treats a policy at the pool user. */
export type PoolUserRule =
  | "round-robin"
  | "random"
  | "weighted"
  | "least-loaded"
  | "priority"
  | "server-order";

/** State a pool user keeps per pool between selections. */
export interface SelectionCursor {
  /** Where round robin continues in the list; reset to 0 when the list is refreshed. */
  next: number;
}

/** What {@linkcode selectPoolElement} needs besides the pool. */
export interface SelectPoolElementOptions {
  /** Pool elements not to pick (reported unreachable, already tried). */
  readonly exclude?: (poolElementId: number) => boolean;
  /** Random numbers in [0, 1) for the random policies. */
  readonly random: () => number;
  /** The pool's round-robin position; advanced past the pick. */
  readonly cursor: SelectionCursor;
}

/**
 * The rule the pool user applies for `policy` (RFC 5356 §4.x.3, §5.x.3):
 * - RR, WRR: "round-robin" through the list from the first, skipping weight 0 (WRR "SHOULD
 *   follow the same rules as RR").
 * - RAND: "random", uniform. WRAND, WRAND-DPF: "weighted" by weight (the RFC says random; the
 *   weight is the policy's intent, rfc-notes §11 item 8).
 * - RLU and RSPLIB's randomized variants: "least-loaded", weighted by 0xffffffff − load.
 * - PRIO: "priority", the highest priority, first in list order among equals.
 * - LU, LUD, PLU and their variants: "server-order", the first in the order the registrar
 *   returned (sorted by load there).
 * - Unknown policies: "round-robin", RFC 5352 §2.2.6's default.
 */
export function poolUserRule(policy: SelectionPolicy): PoolUserRule {
  switch (policy.type) {
    case PolicyType.roundRobin:
    case PolicyType.weightedRoundRobin:
      return "round-robin";
    case PolicyType.random:
      return "random";
    case PolicyType.weightedRandom:
    case PolicyType.weightedRandomDpf:
      return "weighted";
    case PolicyType.randomizedLeastUsed:
    case PolicyType.randomizedLeastUsedDegradation:
    case PolicyType.randomizedPriorityLeastUsed:
    case PolicyType.randomizedPriorityLeastUsedDegradation:
      return "least-loaded";
    case PolicyType.priority:
      return "priority";
    case PolicyType.leastUsed:
    case PolicyType.leastUsedDegradation:
    case PolicyType.priorityLeastUsed:
    case PolicyType.priorityLeastUsedDegradation:
    case PolicyType.leastUsedDpf:
    case PolicyType.leastUsedDegradationDpf:
    case PolicyType.priorityLeastUsedDpf:
    case PolicyType.priorityLeastUsedDegradationDpf:
      return "server-order";
    default:
      return "round-robin";
  }
}

/**
 * Picks one pool element of `poolElements` by the pool's `policy` (see
 * {@linkcode poolUserRule}), skipping `exclude`d ones and those with weight 0 under a weighted
 * policy; undefined when none is left. Each PE's own policy TLV supplies its weight, load or
 * priority.
 *
 * @example
 * ```ts
 * const cursor = { next: 0 };
 * const pe = selectPoolElement(resolution.policy, resolution.poolElements, {
 *   random: Math.random,
 *   cursor,
 * });
 * ```
 */
export function selectPoolElement(
  policy: SelectionPolicy,
  poolElements: readonly PoolElementParameter[],
  options: SelectPoolElementOptions,
): PoolElementParameter | undefined {
  const rule = poolUserRule(policy);
  const exclude = options.exclude;
  const candidates: PoolElementParameter[] = [];
  for (const pe of poolElements) {
    if (exclude?.(pe.identifier)) continue;
    if (
      (rule === "weighted" || policy.type === PolicyType.weightedRoundRobin) && weightOf(pe) === 0
    ) {
      continue;
    }
    candidates.push(pe);
  }
  if (candidates.length === 0) return undefined;
  switch (rule) {
    case "round-robin":
      return nextInRotation(poolElements, candidates, options.cursor);
    case "random":
      return candidates[
        Math.min(candidates.length - 1, Math.floor(options.random() * candidates.length))
      ];
    case "weighted":
      return pickWeighted(candidates, weightOf, options.random);
    case "least-loaded":
      // RFC 5356 §5.4.1: WRAND with every weight set to 0xffffffff − load (at least 1).
      return pickWeighted(candidates, (pe) => Math.max(1, FULL_LOAD - loadOf(pe)), options.random);
    case "priority":
      return candidates.reduce((best, pe) => priorityOf(pe) > priorityOf(best) ? pe : best);
    case "server-order":
      return candidates[0];
  }
}

/** The next candidate at or after the cursor in list order; the cursor moves past it. */
function nextInRotation(
  all: readonly PoolElementParameter[],
  candidates: readonly PoolElementParameter[],
  cursor: SelectionCursor,
): PoolElementParameter {
  const allowed = new Set(candidates);
  for (let step = 0; step < all.length; step++) {
    const index = (cursor.next + step) % all.length;
    const pe = all[index]!;
    if (allowed.has(pe)) {
      cursor.next = (index + 1) % all.length;
      return pe;
    }
  }
  return candidates[0]!;
}

function pickWeighted(
  candidates: readonly PoolElementParameter[],
  weight: (pe: PoolElementParameter) => number,
  random: () => number,
): PoolElementParameter {
  let total = 0;
  for (const pe of candidates) total += weight(pe);
  let point = random() * total;
  for (const pe of candidates) {
    point -= weight(pe);
    if (point < 0) return pe;
  }
  return candidates[candidates.length - 1]!;
}

function weightOf(pe: PoolElementParameter): number {
  return "weight" in pe.policy ? pe.policy.weight : 1;
}

function loadOf(pe: PoolElementParameter): number {
  return "load" in pe.policy ? pe.policy.load : 0;
}

function priorityOf(pe: PoolElementParameter): number {
  return "priority" in pe.policy ? pe.policy.priority : 0;
}
