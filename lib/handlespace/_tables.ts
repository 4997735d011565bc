/**
 * Folder-private: the state of one handlespace that its views read — the element store, the
 * pools by index, the home registrar table and the transports kept whole.
 */
import type { TransportUse } from "../wire/codes.ts";
import type { SctpOrTcpTransport, TransportParameter } from "../wire/parameters.ts";
import type { PolicyDefinition, PoolSelector } from "./policies/policy.ts";
import { ElementStore } from "./_store.ts";

/** One pool: its handle, what its first PE fixed, and its selector. */
export interface Pool {
  /** Index in {@linkcode HandlespaceTables.pools}. */
  readonly index: number;
  /** The pool handle (a copy). */
  readonly handle: Uint8Array;
  /** Hash of the handle's bytes (a small integer). */
  readonly hash: number;
  /** Sum of the handle's 16-bit words, for the PE checksum. */
  readonly handleSum: number;
  /** The pool's member selection policy, fixed by its first PE. */
  readonly definition: PolicyDefinition;
  /** The user transport parameter type fixed by the first PE. */
  readonly transportType: number;
  /** The transport-use fixed by the first PE. */
  readonly transportUse: TransportUse;
  /** Members and selection state. */
  readonly selector: PoolSelector;
  /** Next pool whose handle has the same hash. */
  nextWithHash: Pool | undefined;
}

/** Shared state of a handlespace and its views. */
export class HandlespaceTables {
  /** Every pool element. */
  readonly store: ElementStore = new ElementStore();
  /** Pools by index; undefined for a free index. */
  readonly pools: (Pool | undefined)[] = [];
  /** Home registrar IDs by registrar index. */
  readonly registrarIds: number[] = [];
  /** User transports that do not fit the compact form, by slot. */
  readonly extraTransports: Map<number, TransportParameter> = new Map();
  /** ASAP transports (where the home registrar reaches the PE), by slot. */
  readonly asapTransports: Map<number, SctpOrTcpTransport> = new Map();
}
