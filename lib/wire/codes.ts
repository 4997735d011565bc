/**
 * The code points of RFC 5352 (ASAP), RFC 5353 (ENRP), RFC 5354 (parameters) and RFC 5356
 * (policies), with RSPLIB's private extensions, as `as const` objects with derived unions.
 *
 * @module
 */

/** ASAP message types (RFC 5352 §2.2). */
export const AsapMessageType = {
  registration: 0x01,
  deregistration: 0x02,
  registrationResponse: 0x03,
  deregistrationResponse: 0x04,
  handleResolution: 0x05,
  handleResolutionResponse: 0x06,
  endpointKeepAlive: 0x07,
  endpointKeepAliveAck: 0x08,
  endpointUnreachable: 0x09,
  serverAnnounce: 0x0a,
  cookie: 0x0b,
  cookieEcho: 0x0c,
  businessCard: 0x0d,
  error: 0x0e,
} as const;
/** One ASAP message type code. */
export type AsapMessageType = typeof AsapMessageType[keyof typeof AsapMessageType];

/** ENRP message types (RFC 5353 §2). */
export const EnrpMessageType = {
  presence: 0x01,
  handleTableRequest: 0x02,
  handleTableResponse: 0x03,
  handleUpdate: 0x04,
  listRequest: 0x05,
  listResponse: 0x06,
  initTakeover: 0x07,
  initTakeoverAck: 0x08,
  takeoverServer: 0x09,
  error: 0x0a,
} as const;
/** One ENRP message type code. */
export type EnrpMessageType = typeof EnrpMessageType[keyof typeof EnrpMessageType];

/** Parameter types (RFC 5354 §3, plus the Handle Resolution Option of draft-dreibholz-rserpool-asap-hropt). */
export const ParameterType = {
  ipv4Address: 0x0001,
  ipv6Address: 0x0002,
  dccpTransport: 0x0003,
  sctpTransport: 0x0004,
  tcpTransport: 0x0005,
  udpTransport: 0x0006,
  udpLiteTransport: 0x0007,
  poolMemberSelectionPolicy: 0x0008,
  poolHandle: 0x0009,
  poolElement: 0x000a,
  serverInformation: 0x000b,
  operationError: 0x000c,
  cookie: 0x000d,
  poolElementIdentifier: 0x000e,
  poolElementChecksum: 0x000f,
  opaqueTransport: 0x0010,
  handleResolutionOption: 0x803f,
} as const;
/** One parameter type code. */
export type ParameterType = typeof ParameterType[keyof typeof ParameterType];

/** Error cause codes carried in an Operation Error parameter (RFC 5354 §3.12). */
export const ErrorCauseCode = {
  unspecifiedError: 0x0000,
  unrecognizedParameter: 0x0001,
  unrecognizedMessage: 0x0002,
  invalidValues: 0x0003,
  nonUniquePoolElementIdentifier: 0x0004,
  inconsistentPoolingPolicy: 0x0005,
  lackOfResources: 0x0006,
  inconsistentTransportType: 0x0007,
  inconsistentDataControlConfiguration: 0x0008,
  unknownPoolHandle: 0x0009,
  rejectionDueToSecurityConsiderations: 0x000a,
} as const;
/** One known error cause code; decoders keep unknown codes as plain numbers. */
export type ErrorCauseCode = typeof ErrorCauseCode[keyof typeof ErrorCauseCode];

/** Member selection policy types (RFC 5356 §7.1 and RSPLIB's private 0xb000xxxx range). */
export const PolicyType = {
  roundRobin: 0x00000001,
  weightedRoundRobin: 0x00000002,
  random: 0x00000003,
  weightedRandom: 0x00000004,
  priority: 0x00000005,
  leastUsed: 0x40000001,
  leastUsedDegradation: 0x40000002,
  priorityLeastUsed: 0x40000003,
  randomizedLeastUsed: 0x40000004,
  randomizedPriorityLeastUsed: 0xb0001001,
  randomizedLeastUsedDegradation: 0xb0001002,
  priorityLeastUsedDegradation: 0xb0001003,
  randomizedPriorityLeastUsedDegradation: 0xb0001004,
  weightedRandomDpf: 0xb0002001,
  leastUsedDpf: 0xb0002002,
  leastUsedDegradationDpf: 0xb0002003,
  priorityLeastUsedDpf: 0xb0002004,
  priorityLeastUsedDegradationDpf: 0xb0002005,
} as const;
/** One known policy type code. */
export type PolicyType = typeof PolicyType[keyof typeof PolicyType];

/** Transport-use values of a user transport parameter (RFC 5354 §3.4). */
export const TransportUse = { dataOnly: 0x0000, dataPlusControl: 0x0001 } as const;
/** One transport-use value. */
export type TransportUse = typeof TransportUse[keyof typeof TransportUse];

/** ENRP Handle Update actions (RFC 5353 §2.4). */
export const UpdateAction = { addPoolElement: 0x0000, deletePoolElement: 0x0001 } as const;
/** One Handle Update action. */
export type UpdateAction = typeof UpdateAction[keyof typeof UpdateAction];

/** Message flag bits, by the message they belong to (RFC 5352 §2.2, RFC 5353 §2). */
export const MessageFlag = {
  /** ASAP Registration Response: the registration was rejected. */
  reject: 0x01,
  /** ASAP Endpoint Keep-Alive: the sender wants to become the PE's home registrar. */
  home: 0x01,
  /** ENRP Presence: the receiver must answer with a Presence. */
  replyRequired: 0x01,
  /** ENRP Handle Table Request: only PEs the responder owns. */
  ownChildrenOnly: 0x01,
  /** ENRP Handle Table Response: more entries follow. */
  more: 0x02,
  /** ENRP Handle Update: takeover suggested (draft-dreibholz-rserpool-enrp-takeover). */
  takeoverSuggested: 0x01,
} as const;

/** Registration Life meaning "never expires" (milliseconds on the wire, DECISIONS.md). */
export const REGISTRATION_LIFE_INFINITE = -1;
