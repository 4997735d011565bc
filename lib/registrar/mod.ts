/**
 * The registrar (ENRP server, RFC 5351 §3): the ASAP server side of RFC 5352 §3 over TCP, and the
 * local API the in-process proxy uses.
 *
 * - Registration (§3.1): the first PE fixes a pool's policy, transport type and transport-use;
 *   refusals carry 0x3/0x4/0x5/0x6/0x7/0x8 as RFC 5354 §3.12 describes. A known PE ID
 *   re-registered from another connection moves there when its user transport is unchanged or
 *   its owner is gone, else 0x4 (DECISIONS.md). The registrar records the TCP peer as the PE's
 *   ASAP transport.
 * - Deregistration (§3.2): only the owning connection may deregister (others get 0xa); an
 *   unknown PE counts as deregistered. A registration life that runs out removes the PE and
 *   sends it a Deregistration Response.
 * - Handle resolution (§3.3): the pool's overall policy and the PEs its policy selects, as many
 *   as the Handle Resolution Option asks (0xffffffff: as many as fit), else
 *   `handleResolutionItems`; Unknown Pool Handle (0x9) otherwise.
 * - Supervision (§3.4, §3.5): a connection owning PEs that stays silent gets an Endpoint
 *   Keep-Alive (with the PE Identifier TLV); no answer in time removes all its PEs. A closed
 *   connection's PEs leave at once. Endpoint Unreachable reports trigger a Keep-Alive and, at
 *   `maxBadPeReports`, the PE's removal.
 * - Events "pe-added", "pe-updated", "pe-removed" with a reason, for the proxy and tests.
 *
 * - ENRP (RFC 5353) with `enrp` options: the registrar joins a registrar set over TCP through a
 *   mentor (§3.2), announces its PEs in Handle Updates (§3.3), supervises peers with Presence
 *   (§3.4), takes over the PEs of a dead peer (§3.5, the lower server ID winning a conflict,
 *   DECISIONS.md) and audits its replica against each peer's checksum (§3.6); see
 *   `docs/enrp.md`. {@linkcode fetchHandleTable} downloads a registrar's handle table as a peer
 *   would.
 *
 * Server Announce (§3.6, UDP multicast) and ENRP Presence over UDP multicast are not
 * implemented: PEs, PUs and peers use static lists.
 *
 * @module
 */
export * from "./registrar.ts";
export * from "./registrar_events.ts";
export * from "./registrar_options.ts";
export * from "./enrp_client.ts";
export * from "./enrp_events.ts";
export * from "./enrp_options.ts";
export { EnrpPeering } from "./enrp_peering.ts";
export * from "./enrp_request_error.ts";
