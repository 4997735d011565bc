/** Names of message types, error causes, policies and transports, for logs and operators. */
import {
  AsapMessageType,
  EnrpMessageType,
  ErrorCauseCode,
  ParameterType,
  PolicyType,
} from "./codes.ts";

const ASAP_MESSAGE_NAMES: ReadonlyMap<number, string> = new Map([
  [AsapMessageType.registration, "ASAP_REGISTRATION"],
  [AsapMessageType.deregistration, "ASAP_DEREGISTRATION"],
  [AsapMessageType.registrationResponse, "ASAP_REGISTRATION_RESPONSE"],
  [AsapMessageType.deregistrationResponse, "ASAP_DEREGISTRATION_RESPONSE"],
  [AsapMessageType.handleResolution, "ASAP_HANDLE_RESOLUTION"],
  [AsapMessageType.handleResolutionResponse, "ASAP_HANDLE_RESOLUTION_RESPONSE"],
  [AsapMessageType.endpointKeepAlive, "ASAP_ENDPOINT_KEEP_ALIVE"],
  [AsapMessageType.endpointKeepAliveAck, "ASAP_ENDPOINT_KEEP_ALIVE_ACK"],
  [AsapMessageType.endpointUnreachable, "ASAP_ENDPOINT_UNREACHABLE"],
  [AsapMessageType.serverAnnounce, "ASAP_SERVER_ANNOUNCE"],
  [AsapMessageType.cookie, "ASAP_COOKIE"],
  [AsapMessageType.cookieEcho, "ASAP_COOKIE_ECHO"],
  [AsapMessageType.businessCard, "ASAP_BUSINESS_CARD"],
  [AsapMessageType.error, "ASAP_ERROR"],
]);

const ENRP_MESSAGE_NAMES: ReadonlyMap<number, string> = new Map([
  [EnrpMessageType.presence, "ENRP_PRESENCE"],
  [EnrpMessageType.handleTableRequest, "ENRP_HANDLE_TABLE_REQUEST"],
  [EnrpMessageType.handleTableResponse, "ENRP_HANDLE_TABLE_RESPONSE"],
  [EnrpMessageType.handleUpdate, "ENRP_HANDLE_UPDATE"],
  [EnrpMessageType.listRequest, "ENRP_LIST_REQUEST"],
  [EnrpMessageType.listResponse, "ENRP_LIST_RESPONSE"],
  [EnrpMessageType.initTakeover, "ENRP_INIT_TAKEOVER"],
  [EnrpMessageType.initTakeoverAck, "ENRP_INIT_TAKEOVER_ACK"],
  [EnrpMessageType.takeoverServer, "ENRP_TAKEOVER_SERVER"],
  [EnrpMessageType.error, "ENRP_ERROR"],
]);

const CAUSE_NAMES: ReadonlyMap<number, string> = new Map([
  [ErrorCauseCode.unspecifiedError, "Unspecified Error"],
  [ErrorCauseCode.unrecognizedParameter, "Unrecognized Parameter"],
  [ErrorCauseCode.unrecognizedMessage, "Unrecognized Message"],
  [ErrorCauseCode.invalidValues, "Invalid Values"],
  [ErrorCauseCode.nonUniquePoolElementIdentifier, "Non-unique PE Identifier"],
  [ErrorCauseCode.inconsistentPoolingPolicy, "Inconsistent Pooling Policy"],
  [ErrorCauseCode.lackOfResources, "Lack of Resources"],
  [ErrorCauseCode.inconsistentTransportType, "Inconsistent Transport Type"],
  [ErrorCauseCode.inconsistentDataControlConfiguration, "Inconsistent Data/Control Configuration"],
  [ErrorCauseCode.unknownPoolHandle, "Unknown Pool Handle"],
  [ErrorCauseCode.rejectionDueToSecurityConsiderations, "Rejection due to Security Considerations"],
]);

const POLICY_NAMES: ReadonlyMap<number, string> = new Map([
  [PolicyType.roundRobin, "RR"],
  [PolicyType.weightedRoundRobin, "WRR"],
  [PolicyType.random, "RAND"],
  [PolicyType.weightedRandom, "WRAND"],
  [PolicyType.priority, "PRIO"],
  [PolicyType.leastUsed, "LU"],
  [PolicyType.leastUsedDegradation, "LUD"],
  [PolicyType.priorityLeastUsed, "PLU"],
  [PolicyType.randomizedLeastUsed, "RLU"],
  [PolicyType.randomizedPriorityLeastUsed, "RPLU"],
  [PolicyType.randomizedLeastUsedDegradation, "RLUD"],
  [PolicyType.priorityLeastUsedDegradation, "PLUD"],
  [PolicyType.randomizedPriorityLeastUsedDegradation, "RPLUD"],
  [PolicyType.weightedRandomDpf, "WRAND-DPF"],
  [PolicyType.leastUsedDpf, "LU-DPF"],
  [PolicyType.leastUsedDegradationDpf, "LUD-DPF"],
  [PolicyType.priorityLeastUsedDpf, "PLU-DPF"],
  [PolicyType.priorityLeastUsedDegradationDpf, "PLUD-DPF"],
]);

const TRANSPORT_NAMES: ReadonlyMap<number, string> = new Map([
  [ParameterType.dccpTransport, "DCCP"],
  [ParameterType.sctpTransport, "SCTP"],
  [ParameterType.tcpTransport, "TCP"],
  [ParameterType.udpTransport, "UDP"],
  [ParameterType.udpLiteTransport, "UDP-Lite"],
  [ParameterType.opaqueTransport, "Opaque"],
]);

function hexCode(code: number, digits: number): string {
  return "0x" + code.toString(16).padStart(digits, "0");
}

/** The RFC 5352 name of an ASAP message type ("ASAP_REGISTRATION"), or its code in hex. */
export function asapMessageName(type: number): string {
  return ASAP_MESSAGE_NAMES.get(type) ?? `ASAP message ${hexCode(type, 2)}`;
}

/** The RFC 5353 name of an ENRP message type ("ENRP_PRESENCE"), or its code in hex. */
export function enrpMessageName(type: number): string {
  return ENRP_MESSAGE_NAMES.get(type) ?? `ENRP message ${hexCode(type, 2)}`;
}

/** The RFC 5354 name of an error cause ("Unknown Pool Handle"), or its code in hex. */
export function errorCauseName(code: number): string {
  return CAUSE_NAMES.get(code) ?? `error cause ${hexCode(code, 4)}`;
}

/** The short name of a policy type ("LU", "WRAND-DPF"), or its code in hex. */
export function policyName(type: number): string {
  return POLICY_NAMES.get(type) ?? `policy ${hexCode(type, 8)}`;
}

/** The protocol name of a transport parameter type ("SCTP", "UDP-Lite"), or its code in hex. */
export function transportName(type: number): string {
  return TRANSPORT_NAMES.get(type) ?? `transport ${hexCode(type, 4)}`;
}
