/**
 * The session proxy: clients connect with plain TCP to a listener that names a pool handle; the
 * proxy selects a pool element (PE) by the pool's member selection policy (RFC 5351 §3, through a
 * {@linkcode PoolMemberSource}) and forwards bytes both ways. When the PE fails, the pool's
 * failover mode decides what happens to the session.
 *
 * What counts as a PE failure (DATA ONLY, RFC 5354 §3.4 transport use 0): a connect refused or
 * timed out, a reset or broken connection, the member source reporting the PE removed, or a FIN
 * that a connect probe shows to come from a dead process (see {@linkcode FinProbe}). Each failure
 * the proxy sees itself is reported with `reportUnreachable()` (ASAP Endpoint Unreachable, RFC
 * 5352 §3.5); a removal is not reported back.
 *
 * - Connect failures are retried on other PEs in every mode, with nothing lost, up to the pool's
 *   `maxFailovers`.
 * - `sever` (the default for DATA ONLY pools) closes the client at once, as HAProxy and nginx do.
 * - `migrate` connects the next PE (the failed ones excluded) and writes to it first the client
 *   bytes that were read but not yet written to the old PE. **What is lost:** every byte already
 *   written to the old PE's socket — whether it sat in kernel buffers or the server had received
 *   it but not answered — and whatever state the server kept for the session. The next PE sees the
 *   stream continue from the first unwritten byte, so a request the old PE died on is not sent
 *   again. Bytes the old PE had sent are all passed on before the switch. Use `migrate` for
 *   protocols whose clients cope with such a gap (idempotent requests, resynchronising
 *   streams). The replay buffer cannot overflow: the proxy reads no more from the client until
 *   the previous read is written, so `replayBufferBytes` bounds the client→PE read size.
 * - When no PE is left, or `maxFailovers` is used up, the client is closed.
 *
 * Bounds and their defaults: {@linkcode DEFAULT_MAX_SESSIONS}, {@linkcode DEFAULT_BUFFER_SIZE} (two
 * per session), {@linkcode DEFAULT_REPLAY_BUFFER_BYTES}, {@linkcode DEFAULT_CONNECT_TIMEOUT_MS},
 * {@linkcode DEFAULT_IDLE_TIMEOUT_MS}, {@linkcode DEFAULT_MAX_FAILOVERS},
 * {@linkcode DEFAULT_PROXY_HEADER_TIMEOUT_MS}, {@linkcode DEFAULT_MAX_PROXY_HEADER_BYTES},
 * {@linkcode DEFAULT_DRAIN_MS}, {@linkcode DEFAULT_SPARE_BUFFERS}.
 *
 * @module
 */
export * from "./connector.ts";
export * from "./member_source.ts";
export * from "./proxy.ts";
export * from "./proxy_events.ts";
export * from "./proxy_protocol.ts";
export type { SessionInfo } from "./session.ts";
export * from "./settings.ts";
export * from "./static_member_source.ts";
