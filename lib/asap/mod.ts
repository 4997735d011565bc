/**
 * The ASAP endpoint (RFC 5352) over TCP: what servers written for Poolgate, the `pe` sidecar and
 * the proxy use to speak to a registrar. Guide with examples: `docs/asap_library.md`.
 *
 * - Pool element side, {@linkcode registerPoolElement}: registration with a random non-zero PE
 *   identifier (§3.1), renewal every T4 (§7.1), Keep-Alive Ack at once (§3.4, KA1–KA2.4),
 *   policy updates by re-registration, deregistration on close (§3.2), and a new home found by
 *   server hunt when the old one fails, re-registering with the same PE identifier.
 * - Pool user side, {@linkcode createPoolUser}: Handle Resolution with a cache that honours the
 *   stale-cache time and coalesces requests (§3.3 C1–C4), selection by the pool's policy at the
 *   pool user (RFC 5356, {@linkcode selectPoolElement}), Endpoint Unreachable once per failure
 *   (§3.5), T1 with MAX-REQUEST-RETRANSMIT (§3.7.2).
 * - Both: the ENRP server hunt, {@linkcode huntRegistrar} (§3.6 SH1–SH6: at most three
 *   connection attempts at once, T5 doubling up to RETRAN-MAX), and typed errors,
 *   {@linkcode AsapRequestError}.
 *
 * RFC 5352 wants SCTP between PEs and registrars; Poolgate uses TCP (shared/DESIGN.md), so a
 * registrar reaches a PE only over the connection the PE opened: an Endpoint Keep-Alive with the
 * H bit arrives there and makes its sender, at the other end, the recorded home. Server
 * Announce (§3.6, UDP multicast) is not implemented: endpoints take a static registrar list.
 *
 * @module
 */
export * from "../typed_event_target.ts";
export * from "./asap_request_error.ts";
export * from "./data_channel.ts";
export * from "./pe_session.ts";
export * from "./pool_element.ts";
export * from "./pool_user.ts";
export * from "./pool_user_selection.ts";
export * from "./server_hunt.ts";
