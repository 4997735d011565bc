/**
 * ENRP messages (RFC 5353 §2) as a discriminated union on `type`. Every ENRP message carries
 * the sender's and the receiver's server IDs (0 = unknown, or every peer).
 */
import type { EnrpMessageType, UpdateAction } from "./codes.ts";
import type { MessageExtras } from "./asap_messages.ts";
import type { ErrorCause, PoolElementParameter, ServerInformation } from "./parameters.ts";

/** The fields every ENRP message has. */
export interface EnrpHeader extends MessageExtras {
  readonly senderServerId: number;
  readonly receiverServerId: number;
}

/** ENRP_PRESENCE: the sender's ownership checksum and, optionally, how to reach it. */
export interface EnrpPresence extends EnrpHeader {
  readonly type: typeof EnrpMessageType.presence;
  readonly replyRequired: boolean;
  readonly checksum: number;
  readonly serverInformation?: ServerInformation;
}

/** ENRP_HANDLE_TABLE_REQUEST; W asks only for the PEs the responder owns. */
export interface EnrpHandleTableRequest extends EnrpHeader {
  readonly type: typeof EnrpMessageType.handleTableRequest;
  readonly ownChildrenOnly: boolean;
}

/** One pool in a Handle Table Response. */
export interface HandleTableEntry {
  readonly poolHandle: Uint8Array;
  readonly poolElements: readonly PoolElementParameter[];
}

/** ENRP_HANDLE_TABLE_RESPONSE; M says more follows, R says the request was rejected. */
export interface EnrpHandleTableResponse extends EnrpHeader {
  readonly type: typeof EnrpMessageType.handleTableResponse;
  readonly reject: boolean;
  readonly more: boolean;
  readonly entries: readonly HandleTableEntry[];
}

/** ENRP_HANDLE_UPDATE: one PE added (or updated) or deleted by its owner. */
export interface EnrpHandleUpdate extends EnrpHeader {
  readonly type: typeof EnrpMessageType.handleUpdate;
  readonly takeoverSuggested: boolean;
  readonly action: UpdateAction;
  readonly poolHandle: Uint8Array;
  readonly poolElement: PoolElementParameter;
}

/** ENRP_LIST_REQUEST. */
export interface EnrpListRequest extends EnrpHeader {
  readonly type: typeof EnrpMessageType.listRequest;
}

/** ENRP_LIST_RESPONSE: the peers the sender knows. */
export interface EnrpListResponse extends EnrpHeader {
  readonly type: typeof EnrpMessageType.listResponse;
  readonly reject: boolean;
  readonly servers: readonly ServerInformation[];
}

/** ENRP_INIT_TAKEOVER: the sender starts taking over the target's PEs. */
export interface EnrpInitTakeover extends EnrpHeader {
  readonly type: typeof EnrpMessageType.initTakeover;
  readonly targetServerId: number;
}

/** ENRP_INIT_TAKEOVER_ACK. */
export interface EnrpInitTakeoverAck extends EnrpHeader {
  readonly type: typeof EnrpMessageType.initTakeoverAck;
  readonly targetServerId: number;
}

/** ENRP_TAKEOVER_SERVER: the sender now owns the target's PEs. */
export interface EnrpTakeoverServer extends EnrpHeader {
  readonly type: typeof EnrpMessageType.takeoverServer;
  readonly targetServerId: number;
}

/** ENRP_ERROR: an Operation Error with one or more causes. */
export interface EnrpError extends EnrpHeader {
  readonly type: typeof EnrpMessageType.error;
  readonly errorCauses: readonly ErrorCause[];
}

/** Any ENRP message. */
export type EnrpMessage =
  | EnrpPresence
  | EnrpHandleTableRequest
  | EnrpHandleTableResponse
  | EnrpHandleUpdate
  | EnrpListRequest
  | EnrpListResponse
  | EnrpInitTakeover
  | EnrpInitTakeoverAck
  | EnrpTakeoverServer
  | EnrpError;
