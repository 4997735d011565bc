/**
 * The handlespace: pools, pool elements and their owners (RFC 5352 §3.1–§3.3), the member
 * selection policies of RFC 5356 (RR, WRR, RAND, WRAND, PRIO, LU, LUD, PLU, RLU), the ENRP PE
 * checksums (RFC 5353 §3.6) and registration-life expiry. Pure: no I/O and no timers; time is an
 * argument and randomness an injected source.
 *
 * @module
 */
export * from "./handlespace.ts";
export * from "./pool_element_view.ts";
export * from "./pool_view.ts";
export * from "./checksum.ts";
export * from "./random_source.ts";
export type { PolicyDefinition, PoolSelector, RandomSource } from "./policies/policy.ts";
export { findPolicy, POLICY_TABLE, refusalFor } from "./policies/policy_table.ts";
