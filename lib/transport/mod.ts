/**
 * ASAP and ENRP messages over TCP (shared/DESIGN.md "Transports"): each message is delimited by
 * its 4-byte header's Length (RFC 5354 §4 / RFC 5352 §2) and the next starts at
 * `roundup4(Length)` (spec/DECISIONS.md). RFC 5352 specifies SCTP; no transport-mapping RFC
 * for TCP exists, so this framing is Poolgate's (as RSPLIB's and Wireshark's over TCP).
 *
 * - {@linkcode MessageConnection}: whole messages in and out of a {@linkcode ByteStream}, with a
 *   bounded read buffer, a partial-message deadline, a bounded write queue with backpressure.
 * - {@linkcode startMessageServer}: accepts connections up to a limit, hands each to a handler.
 * - {@linkcode connectMessage}: the client side, with a connect timeout.
 * - {@linkcode ListenError}: a socket that cannot bind, naming its address and what it is for.
 *
 * @module
 */
export * from "./byte_stream.ts";
export * from "./connect_message.ts";
export * from "./delay.ts";
export * from "./format_address.ts";
export * from "./is_peer_gone.ts";
export * from "./listen_error.ts";
export * from "./message_connection.ts";
export * from "./message_limits.ts";
export * from "./message_server.ts";
export * from "./transport_error.ts";
