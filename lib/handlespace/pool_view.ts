/** A read-only view of one pool of a handlespace. */
import type { TransportUse } from "../wire/codes.ts";
import type { PoolElementView } from "./pool_element_view.ts";
import type { Pool } from "./_tables.ts";

/** A pool: its handle, what its first PE fixed, and its members. */
export class PoolView {
  readonly #pool: Pool;
  readonly #viewOf: (slot: number) => PoolElementView;

  /** Folder-private: handlespaces build pool views. */
  constructor(pool: Pool, viewOf: (slot: number) => PoolElementView) {
    this.#pool = pool;
    this.#viewOf = viewOf;
  }

  /** The pool handle (the handlespace's copy: do not modify). */
  get handle(): Uint8Array {
    return this.#pool.handle;
  }

  /** The pool's member selection policy type, fixed by its first PE. */
  get policyType(): number {
    return this.#pool.definition.type;
  }

  /** The policy's name as RSPLIB reports it, e.g. "LeastUsed". */
  get policyName(): string {
    return this.#pool.definition.name;
  }

  /** The user transport parameter type fixed by the first PE. */
  get transportType(): number {
    return this.#pool.transportType;
  }

  /** The transport-use fixed by the first PE. */
  get transportUse(): TransportUse {
    return this.#pool.transportUse;
  }

  /** Pool elements in the pool now. */
  get size(): number {
    return this.#pool.selector.size;
  }

  /** The pool's elements, in the policy's storage order. The pool must not change meanwhile. */
  *elements(): IterableIterator<PoolElementView> {
    for (const slot of this.#pool.selector.members()) yield this.#viewOf(slot);
  }
}
