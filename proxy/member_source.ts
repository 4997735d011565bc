/**
 * What the session proxy needs from the registrar's handlespace: pick a pool element by the
 * pool's member selection policy, hear about failures, learn when a pool element leaves. The
 * embedded registrar implements it; {@linkcode StaticMemberSource} stands in until then.
 *
 * @module
 */

/** Where the proxy reaches one pool element (PE), and how it talks to it. */
export interface PoolMemberAddress {
  /** The PE identifier, unique within its pool (RFC 5351 §3.3). */
  readonly peId: number;
  /** IP address or host name of the PE's user transport. */
  readonly hostname: string;
  /** TCP port of the PE's user transport. */
  readonly port: number;
  /** Transport use of the user transport parameter: 0 DATA ONLY, 1 DATA PLUS CONTROL (RFC 5354 §3.4). */
  readonly transportUse: 0 | 1;
}

/** What the proxy needs from the registrar: selection, failure reports, removal events. */
export interface PoolMemberSource {
  /** Picks one PE of the pool by its policy, skipping `exclude`; undefined when none is left. */
  select(poolHandle: string, exclude: ReadonlySet<number>): PoolMemberAddress | undefined;
  /**
   * The PE `peId` of the pool when it is registered and takes new sessions, else undefined:
   * how the proxy honours the failover targets a Business Card names (RFC 5352 §2.2.13) without
   * trusting the addresses in it, and finds that a PE left while a session was connecting to it.
   * Without this method Business Cards are ignored and that check is not made.
   */
  find?(poolHandle: string, peId: number): PoolMemberAddress | undefined;
  /** Reports a PE the proxy could not use (ASAP Endpoint Unreachable semantics, RFC 5352 §3.5). */
  reportUnreachable(poolHandle: string, peId: number): void;
  /**
   * Calls back when a PE leaves the pool (deregistered, keep-alive timeout, …), until the
   * returned function is called.
   */
  onRemoved(listener: PoolMemberRemovedListener): () => void;
}

/** Called when a pool element leaves its pool; `reason` is for logs. */
export type PoolMemberRemovedListener = (poolHandle: string, peId: number, reason: string) => void;
