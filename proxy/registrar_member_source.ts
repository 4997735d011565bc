/**
 * The embedded registrar as the session proxy's {@linkcode PoolMemberSource}: selection runs on
 * the registrar's own handlespace (no network round trip), failure reports count as Endpoint
 * Unreachable, and the registrar's "pe-removed" events move sessions without polling.
 *
 * @module
 */
import type { PoolElementView } from "../lib/handlespace/mod.ts";
import type { Registrar } from "../lib/registrar/mod.ts";
import type {
  PoolMemberAddress,
  PoolMemberRemovedListener,
  PoolMemberSource,
} from "./member_source.ts";

const decoder = new TextDecoder();

/** Pool elements that a selection must skip although they are registered (drained members). */
export type SelectionFilter = (poolHandle: string, peId: number) => boolean;

/** Adapts a {@linkcode Registrar} to the proxy. */
export class RegistrarMemberSource implements PoolMemberSource {
  readonly #registrar: Registrar;
  readonly #skip: SelectionFilter | undefined;

  /** Wraps `registrar`; `skip` names PEs that take no new sessions (drain, maintenance). */
  constructor(registrar: Registrar, skip?: SelectionFilter) {
    this.#registrar = registrar;
    this.#skip = skip;
  }

  /**
   * Picks one PE by the pool's policy, skipping `exclude`, PEs the filter skips and PEs the
   * proxy cannot reach over TCP (no single IP address).
   */
  select(poolHandle: string, exclude: ReadonlySet<number>): PoolMemberAddress | undefined {
    let skipped: Set<number> | undefined;
    // A skipped PE is added to the exclusions and the selection repeated, so that the policy's
    // own state (round-robin head, LUD counters) is what orders the remaining PEs.
    for (;;) {
      const [view] = this.#registrar.select(poolHandle, 1, skipped ?? exclude);
      if (view === undefined) return undefined;
      const address = this.#skip?.(poolHandle, view.identifier) ? undefined : toAddress(view);
      if (address !== undefined) return address;
      skipped ??= new Set(exclude);
      skipped.add(view.identifier);
    }
  }

  /** Reports a PE the proxy could not use, as an ASAP Endpoint Unreachable. */
  reportUnreachable(poolHandle: string, peId: number): void {
    this.#registrar.reportUnreachable(poolHandle, peId);
  }

  /** Calls `listener` for every PE that leaves its pool, until the returned function is called. */
  onRemoved(listener: PoolMemberRemovedListener): () => void {
    const handler = (event: CustomEvent<{ handle: Uint8Array; peId: number; reason: string }>) => {
      const { handle, peId, reason } = event.detail;
      listener(decoder.decode(handle), peId, reason);
    };
    this.#registrar.addEventListener("pe-removed", handler);
    return () => this.#registrar.removeEventListener("pe-removed", handler);
  }
}

function toAddress(view: PoolElementView): PoolMemberAddress | undefined {
  const hostname = view.address;
  const port = view.port;
  if (hostname === undefined || port === undefined) return undefined;
  return {
    peId: view.identifier,
    hostname,
    port,
    transportUse: view.transportUse === 1 ? 1 : 0,
  };
}
