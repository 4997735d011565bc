/**
 * Member selection policies as operators write them: RFC 5356's short names (`rr`, `wrr`,
 * `rand`, `wrand`, `prio`, `lu`, `lud`, `plu`, `rlu`) or RSPLIB's long ones (`RoundRobin`,
 * `LeastUsedDegradation`, …), with load and load degradation in percent and weight and priority
 * as integers, e.g. `lu:load=25` or `lud:load=10,degradation=5`.
 *
 * @module
 */
import { PolicyType } from "./codes.ts";
import type { KnownSelectionPolicy } from "./selection_policy.ts";

/** RFC 5356's policy names, as Poolgate's flags and admin API take them. */
export const POLICY_SHORT_NAMES = [
  "rr",
  "wrr",
  "rand",
  "wrand",
  "prio",
  "lu",
  "lud",
  "plu",
  "rlu",
] as const;
/** One policy short name. */
export type PolicyShortName = typeof POLICY_SHORT_NAMES[number];

/** A policy and its values in operator units: percent for loads, integers otherwise. */
export interface PolicySettings {
  readonly name: PolicyShortName;
  readonly weight?: number;
  readonly priority?: number;
  /** Percent, 0–100. */
  readonly load?: number;
  /** Percent, 0–100. */
  readonly loadDegradation?: number;
}

const TYPES: Record<PolicyShortName, number> = {
  rr: PolicyType.roundRobin,
  wrr: PolicyType.weightedRoundRobin,
  rand: PolicyType.random,
  wrand: PolicyType.weightedRandom,
  prio: PolicyType.priority,
  lu: PolicyType.leastUsed,
  lud: PolicyType.leastUsedDegradation,
  plu: PolicyType.priorityLeastUsed,
  rlu: PolicyType.randomizedLeastUsed,
};

const LONG_NAMES: Record<string, PolicyShortName> = {
  roundrobin: "rr",
  weightedroundrobin: "wrr",
  random: "rand",
  weightedrandom: "wrand",
  priority: "prio",
  leastused: "lu",
  leastuseddegradation: "lud",
  priorityleastused: "plu",
  randomizedleastused: "rlu",
};

/** The values each policy takes, by the key operators write. */
const VALUE_KEYS: Record<
  PolicyShortName,
  readonly ("weight" | "priority" | "load" | "degradation")[]
> = {
  rr: [],
  rand: [],
  wrr: ["weight"],
  wrand: ["weight"],
  prio: ["priority"],
  lu: ["load"],
  rlu: ["load"],
  lud: ["load", "degradation"],
  plu: ["load", "degradation"],
};

const U32_MAX = 0xffff_ffff;

/** Finds a policy by its short or RSPLIB long name, ignoring case; undefined if unknown. */
export function policyShortName(name: string): PolicyShortName | undefined {
  const lower = name.toLowerCase();
  return POLICY_SHORT_NAMES.find((n) => n === lower) ?? LONG_NAMES[lower];
}

function parseNumber(key: string, text: string): number {
  if (key === "load" || key === "degradation") {
    if (!/^\d+(\.\d+)?$/.test(text) || Number(text) > 100) {
      throw new RangeError(
        `${key} must be a percentage from 0 to 100, not ${JSON.stringify(text)}`,
      );
    }
    return Number(text);
  }
  if (!/^\d+$/.test(text) || Number(text) > U32_MAX) {
    throw new RangeError(
      `${key} must be a whole number from 0 to ${U32_MAX}, not ${JSON.stringify(text)}`,
    );
  }
  return Number(text);
}

/**
 * Parses `NAME[:key=value,…]`. Keys: `weight`, `priority` (integers), `load`, `degradation`
 * (percent).
 *
 * @throws {RangeError} naming the unknown policy, key or bad value.
 */
export function parsePolicyText(text: string): PolicySettings {
  const colon = text.indexOf(":");
  const nameText = colon < 0 ? text : text.slice(0, colon);
  const name = policyShortName(nameText);
  if (name === undefined) {
    throw new RangeError(
      `unknown policy ${JSON.stringify(nameText)}; use one of ${POLICY_SHORT_NAMES.join(", ")}`,
    );
  }
  const values: { weight?: number; priority?: number; load?: number; loadDegradation?: number } =
    {};
  const allowed = VALUE_KEYS[name];
  const pairs = colon < 0 ? [] : text.slice(colon + 1).split(",").filter((p) => p !== "");
  for (const pair of pairs) {
    const [key = "", value, ...rest] = pair.split("=");
    if (value === undefined || rest.length > 0) {
      throw new RangeError(`expected key=value, not ${JSON.stringify(pair)}`);
    }
    const known = allowed.find((k) => k === key);
    if (known === undefined) {
      throw new RangeError(
        `policy ${name} takes ${allowed.length === 0 ? "no values" : allowed.join(", ")}, not ${
          JSON.stringify(key)
        }`,
      );
    }
    const number = parseNumber(known, value);
    if (known === "degradation") values.loadDegradation = number;
    else values[known] = number;
  }
  return { name, ...values };
}

function percentToU32(percent: number | undefined): number {
  return Math.round(((percent ?? 0) / 100) * U32_MAX);
}

function u32ToPercent(value: number): number {
  return Math.round((value / U32_MAX) * 100 * 1000) / 1000;
}

/** Turns operator settings into the wire policy (missing weights default to 1, loads to 0). */
export function policyFromSettings(settings: PolicySettings): KnownSelectionPolicy {
  const weight = settings.weight ?? 1;
  const load = percentToU32(settings.load);
  const loadDegradation = percentToU32(settings.loadDegradation);
  switch (settings.name) {
    case "rr":
      return { type: PolicyType.roundRobin };
    case "rand":
      return { type: PolicyType.random };
    case "wrr":
      return { type: PolicyType.weightedRoundRobin, weight };
    case "wrand":
      return { type: PolicyType.weightedRandom, weight };
    case "prio":
      return { type: PolicyType.priority, priority: settings.priority ?? 0 };
    case "lu":
      return { type: PolicyType.leastUsed, load };
    case "rlu":
      return { type: PolicyType.randomizedLeastUsed, load };
    case "lud":
      return { type: PolicyType.leastUsedDegradation, load, loadDegradation };
    case "plu":
      return { type: PolicyType.priorityLeastUsed, load, loadDegradation };
  }
}

/** The short name of a policy type, or undefined for one operators cannot name. */
export function shortNameOfType(type: number): PolicyShortName | undefined {
  return POLICY_SHORT_NAMES.find((name) => TYPES[name] === type);
}

/** Turns a wire policy back into operator units; undefined for a policy without a short name. */
export function settingsFromPolicy(policy: KnownSelectionPolicy): PolicySettings | undefined {
  const name = shortNameOfType(policy.type);
  if (name === undefined) return undefined;
  const settings: {
    name: PolicyShortName;
    weight?: number;
    priority?: number;
    load?: number;
    loadDegradation?: number;
  } = { name };
  if ("weight" in policy) settings.weight = policy.weight;
  if ("priority" in policy) settings.priority = policy.priority;
  if ("load" in policy) settings.load = u32ToPercent(policy.load);
  if ("loadDegradation" in policy) settings.loadDegradation = u32ToPercent(policy.loadDegradation);
  return settings;
}
