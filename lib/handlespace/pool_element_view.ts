/**
 * A read-only view of one pool element in a handlespace, and the conversion to the wire's
 * Pool Element parameter.
 */
import { PolicyType, TransportUse } from "../wire/codes.ts";
import type {
  PoolElementParameter,
  SctpOrTcpTransport,
  TransportParameter,
} from "../wire/parameters.ts";
import type { KnownSelectionPolicy } from "../wire/selection_policy.ts";
import type { HandlespaceTables, Pool } from "./_tables.ts";
import { expandTransport, formatIpv4 } from "./_transport.ts";

/**
 * A live view of a pool element: its getters read the handlespace's current values. It stays
 * valid while the PE is registered; after the PE is removed every getter but `alive` throws a
 * `ReferenceError`. Keep `toParameter()` for a copy that outlives the PE.
 */
export class PoolElementView {
  readonly #tables: HandlespaceTables;
  readonly #slot: number;
  readonly #pool: Pool;
  readonly #identifier: number;

  /** Folder-private: handlespaces build views; callers get them from a handlespace. */
  constructor(tables: HandlespaceTables, slot: number, pool: Pool) {
    this.#tables = tables;
    this.#slot = slot;
    this.#pool = pool;
    this.#identifier = tables.store.id[slot]!;
  }

  /** True while the PE is registered. */
  get alive(): boolean {
    const store = this.#tables.store;
    return store.pool[this.#slot] === this.#pool.index &&
      store.id[this.#slot] === this.#identifier &&
      this.#tables.pools[this.#pool.index] === this.#pool;
  }

  /** The PE identifier (readable after removal too). */
  get identifier(): number {
    return this.#identifier;
  }

  /** The pool handle (the handlespace's copy: do not modify; readable after removal too). */
  get handle(): Uint8Array {
    return this.#pool.handle;
  }

  /** The pool's member selection policy type (readable after removal too). */
  get policyType(): number {
    return this.#pool.definition.type;
  }

  /** The ID of the PE's home registrar. */
  get homeRegistrarId(): number {
    return this.#tables.registrarIds[this.#live().home[this.#slot]!]!;
  }

  /** Registration life in milliseconds; -1 is infinite. */
  get registrationLife(): number {
    return this.#live().life[this.#slot]!;
  }

  /** Time of the last (re-)registration, milliseconds. */
  get lastUpdate(): number {
    return this.#live().updated[this.#slot]!;
  }

  /** Time the registration life runs out, milliseconds; Infinity for an infinite life. */
  get expiresAt(): number {
    return this.#live().expiry[this.#slot]!;
  }

  /** Endpoint Unreachable reports since the last (re-)registration. */
  get unreachableReports(): number {
    return this.#live().unreachable[this.#slot]!;
  }

  /** LUD: selections since the last (re-)registration (the degradation counter); else 0. */
  get degradationCounter(): number {
    const store = this.#live();
    return this.#pool.definition.type === PolicyType.leastUsedDegradation
      ? store.state[this.#slot]!
      : 0;
  }

  /** The PE's selection policy and its values (a new object). */
  get policy(): KnownSelectionPolicy {
    const store = this.#live();
    return this.#pool.definition.toPolicy(store.value1[this.#slot]!, store.value2[this.#slot]!);
  }

  /** The user transport's parameter type (e.g. TCP 0x0005). */
  get transportType(): number {
    this.#live();
    return this.#pool.transportType;
  }

  /** The user transport's transport-use. */
  get transportUse(): TransportUse {
    this.#live();
    return this.#pool.transportUse;
  }

  /** The user transport's first address, or undefined for an Opaque Transport. */
  get address(): string | undefined {
    const store = this.#live();
    if (store.transport[this.#slot] !== 0) return formatIpv4(store.ipv4[this.#slot]!);
    const transport = this.#tables.extraTransports.get(this.#slot)!;
    return "addresses" in transport ? transport.addresses[0] : undefined;
  }

  /** The user transport's port, or undefined for an Opaque Transport. */
  get port(): number | undefined {
    const store = this.#live();
    if (store.transport[this.#slot] !== 0) return store.port[this.#slot]!;
    const transport = this.#tables.extraTransports.get(this.#slot)!;
    return "port" in transport ? transport.port : undefined;
  }

  /** The user transport parameter (a new object, or the stored one for uncommon transports). */
  get userTransport(): TransportParameter {
    const store = this.#live();
    const slot = this.#slot;
    const type = store.transport[slot]!;
    if (type === 0) return this.#tables.extraTransports.get(slot)!;
    return expandTransport(
      type,
      store.port[slot]!,
      store.transportUse[slot] === TransportUse.dataPlusControl
        ? TransportUse.dataPlusControl
        : TransportUse.dataOnly,
      store.ipv4[slot]!,
    );
  }

  /** Where the home registrar reaches the PE's ASAP endpoint, when known. */
  get asapTransport(): SctpOrTcpTransport | undefined {
    this.#live();
    return this.#tables.asapTransports.get(this.#slot);
  }

  /** The PE as a wire Pool Element parameter (a snapshot that outlives the PE). */
  toParameter(): PoolElementParameter {
    const base = {
      identifier: this.#identifier,
      homeRegistrarId: this.homeRegistrarId,
      registrationLife: this.registrationLife,
      userTransport: this.userTransport,
      policy: this.policy,
    };
    const asapTransport = this.asapTransport;
    return asapTransport === undefined ? base : { ...base, asapTransport };
  }

  #live() {
    if (!this.alive) {
      throw new ReferenceError(
        `Cannot read pool element 0x${this.#identifier.toString(16)}: it was removed`,
      );
    }
    return this.#tables.store;
  }
}
