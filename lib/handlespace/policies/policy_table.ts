/**
 * The member selection policies this handlespace runs, and how a registration with any other
 * policy type is refused.
 */
import { ErrorCauseCode, PolicyType } from "../../wire/codes.ts";
import { leastUsed, leastUsedDegradation, priorityLeastUsed } from "./least_used.ts";
import type { PolicyDefinition } from "./policy.ts";
import { priority } from "./priority.ts";
import { random } from "./random.ts";
import { roundRobin } from "./round_robin.ts";
import { randomizedLeastUsed, weightedRandom } from "./weighted_random.ts";
import { weightedRoundRobin } from "./weighted_round_robin.ts";

/** Every supported policy, RFC 5356 §7.1 order. */
export const POLICY_TABLE: readonly PolicyDefinition[] = [
  roundRobin,
  weightedRoundRobin,
  random,
  weightedRandom,
  priority,
  leastUsed,
  leastUsedDegradation,
  priorityLeastUsed,
  randomizedLeastUsed,
];

const KNOWN_TYPES: ReadonlySet<number> = new Set(Object.values(PolicyType));

/** The definition of policy `type`, or undefined when the handlespace does not run it. */
export function findPolicy(type: number): PolicyDefinition | undefined {
  for (const definition of POLICY_TABLE) if (definition.type === type) return definition;
  return undefined;
}

/**
 * The cause that refuses a registration with an unsupported policy `type`: 0x5 Inconsistent
 * Pooling Policy for a type Poolgate knows but does not run (RSPLIB's further LU variants and
 * the DPF policies), 0x3 Invalid Values for an unknown type (rfc-notes §6: never silently
 * degrade to round robin).
 */
export function refusalFor(type: number): ErrorCauseCode {
  return KNOWN_TYPES.has(type)
    ? ErrorCauseCode.inconsistentPoolingPolicy
    : ErrorCauseCode.invalidValues;
}
