/**
 * The contract between the handlespace and one member selection policy (RFC 5356): a
 * {@linkcode PolicyDefinition} per policy type, which creates one {@linkcode PoolSelector} per pool.
 * Adding a policy means one module exporting a definition, plus one row in `policy_table.ts`.
 */
import type { KnownSelectionPolicy } from "../../wire/selection_policy.ts";
import type { ElementStore } from "../_store.ts";
import type { SelectionContext } from "../_selection_context.ts";

/** A source of uniform random numbers in [0, 1), like `Math.random`. */
export type RandomSource = () => number;

/**
 * The members of one pool in the order its policy needs, and the policy's selection state.
 * Policy values live in the store's `value1`/`value2` (weight, priority or load; load
 * degradation), written by `add` and `update`.
 */
export interface PoolSelector {
  /** Members of the pool. */
  readonly size: number;
  /** The members' slots, in the selector's storage order. */
  members(): IterableIterator<number>;
  /** Adds a new member with its policy values. */
  add(slot: number, value1: number, value2: number): void;
  /** A re-registration: new policy values take effect at once; per-PE state is reset. */
  update(slot: number, value1: number, value2: number): void;
  /** Removes a member. */
  remove(slot: number): void;
  /**
   * Writes up to `count` (≥ 1) distinct eligible members to `ctx.out`, in the order the policy
   * reports them, updates the selection state, and returns how many it wrote.
   */
  select(count: number, ctx: SelectionContext): number;
}

/** One member selection policy type: how its values are read and written, and its selector. */
export interface PolicyDefinition {
  /** Policy type code (RFC 5356 §7.1). */
  readonly type: number;
  /** Name as RSPLIB reports it, e.g. "LeastUsed". */
  readonly name: string;
  /** The policy's first value (weight, priority or load), 0 when it has none. */
  value1(policy: KnownSelectionPolicy): number;
  /** The policy's second value (load degradation), 0 when it has none. */
  value2(policy: KnownSelectionPolicy): number;
  /** The wire policy for stored values. */
  toPolicy(value1: number, value2: number): KnownSelectionPolicy;
  /** A selector for a new pool. */
  createSelector(store: ElementStore, random: RandomSource): PoolSelector;
}
