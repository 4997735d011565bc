/**
 * The fields Wireshark's ASAP/ENRP dissectors show for a message, computed from the message
 * itself in wire order, keyed by field name without the `asap.`/`enrp.` prefix, formatted as
 * tshark prints them (hex bytes without colons). Tests compare them with what tshark decoded.
 */
import {
  type AsapMessage,
  AsapMessageType,
  type EnrpMessage,
  EnrpMessageType,
  type ErrorCause,
  ErrorCauseCode,
  ParameterType,
  type PoolElementParameter,
  type SelectionPolicy,
  type TransportParameter,
} from "../../../lib/wire/mod.ts";
import { DEFAULT_DECODE_LIMITS } from "../../../lib/wire/decode_options.ts";
import { WireReader } from "../../../lib/wire/reader.ts";
import { readTransportParameter } from "../../../lib/wire/transport_parameters.ts";

/** Field name → values in the order the dissector meets them. */
export type FieldMap = Map<string, string[]>;

/** Fields the tests compare; tshark is asked for exactly these. */
export const COMPARED_FIELDS: readonly string[] = [
  "message_type",
  "message_flags",
  "message_length",
  "pool_handle_pool_handle",
  "pool_element_pe_identifier",
  "pool_element_home_enrp_server_identifier",
  "pool_element_registration_life",
  "pe_identifier",
  "pool_member_selection_policy_type",
  "transport_use",
  "sctp_transport_port",
  "tcp_transport_port",
  "udp_transport_port",
  "udp_lite_transport_port",
  "dccp_transport_port",
  "ipv4_address",
  "ipv6_address",
  "cause_code",
  "cookie",
  "hropt_items",
  "server_identifier",
  "sender_servers_id",
  "receiver_servers_id",
  "target_servers_id",
  "server_information_server_identifier",
  "update_action",
  "pe_checksum",
];

const ASAP_ONLY: ReadonlySet<string> = new Set(["hropt_items", "server_identifier"]);
const ENRP_ONLY: ReadonlySet<string> = new Set([
  "sender_servers_id",
  "receiver_servers_id",
  "target_servers_id",
  "server_information_server_identifier",
  "update_action",
]);

/** The compared fields that `protocol`'s dissector has. */
export function comparedFields(protocol: "asap" | "enrp"): string[] {
  const other = protocol === "asap" ? ENRP_ONLY : ASAP_ONLY;
  return COMPARED_FIELDS.filter((field) => !other.has(field));
}

/** Lower-case hex without separators, as tshark prints byte fields. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function hexNumber(value: number, digits: number): string {
  return "0x" + value.toString(16).padStart(digits, "0");
}

const PORT_FIELDS: ReadonlyMap<number, string> = new Map([
  [ParameterType.sctpTransport, "sctp_transport_port"],
  [ParameterType.tcpTransport, "tcp_transport_port"],
  [ParameterType.udpTransport, "udp_transport_port"],
  [ParameterType.udpLiteTransport, "udp_lite_transport_port"],
  [ParameterType.dccpTransport, "dccp_transport_port"],
]);

class Fields {
  readonly map: FieldMap = new Map();

  add(key: string, value: string): void {
    const values = this.map.get(key);
    if (values === undefined) this.map.set(key, [value]);
    else values.push(value);
  }

  header(type: number, flags: number, length: number): void {
    this.add("message_type", String(type));
    this.add("message_flags", hexNumber(flags, 2));
    this.add("message_length", String(length));
  }

  transport(transport: TransportParameter): void {
    if (transport.type === ParameterType.opaqueTransport) return;
    this.add(PORT_FIELDS.get(transport.type)!, String(transport.port));
    if ("transportUse" in transport) this.add("transport_use", String(transport.transportUse));
    for (const address of transport.addresses) {
      this.add(address.includes(":") ? "ipv6_address" : "ipv4_address", address);
    }
  }

  policy(policy: SelectionPolicy): void {
    this.add("pool_member_selection_policy_type", hexNumber(policy.type, 8));
  }

  poolElement(poolElement: PoolElementParameter): void {
    this.add("pool_element_pe_identifier", hexNumber(poolElement.identifier, 8));
    this.add("pool_element_home_enrp_server_identifier", hexNumber(poolElement.homeRegistrarId, 8));
    this.add("pool_element_registration_life", String(poolElement.registrationLife));
    this.transport(poolElement.userTransport);
    this.policy(poolElement.policy);
    if (poolElement.asapTransport !== undefined) this.transport(poolElement.asapTransport);
  }

  handle(poolHandle: Uint8Array): void {
    this.add("pool_handle_pool_handle", toHex(poolHandle));
  }

  causes(causes: readonly ErrorCause[]): void {
    for (const { code, info } of causes) {
      this.add("cause_code", hexNumber(code, 4));
      if (code === ErrorCauseCode.unrecognizedMessage) {
        this.header(info[0]!, info[1]!, (info[2]! << 8) | info[3]!);
      } else if (code === ErrorCauseCode.invalidValues && info.length > 4) {
        this.add("cookie", toHex(info.subarray(4)));
      } else if (code === ErrorCauseCode.inconsistentPoolingPolicy) {
        this.add(
          "pool_member_selection_policy_type",
          hexNumber(new DataView(info.buffer, info.byteOffset).getUint32(4), 8),
        );
      } else if (code === ErrorCauseCode.inconsistentTransportType) {
        const reader = new WireReader(info, info.length, DEFAULT_DECODE_LIMITS);
        this.transport(readTransportParameter(reader, (info[0]! << 8) | info[1]!));
      }
    }
  }
}

function asapFields(f: Fields, m: AsapMessage): void {
  switch (m.type) {
    case AsapMessageType.registration:
      f.handle(m.poolHandle);
      f.poolElement(m.poolElement);
      break;
    case AsapMessageType.deregistration:
    case AsapMessageType.endpointKeepAliveAck:
    case AsapMessageType.endpointUnreachable:
    case AsapMessageType.registrationResponse:
    case AsapMessageType.deregistrationResponse:
      f.handle(m.poolHandle);
      f.add("pe_identifier", hexNumber(m.poolElementId, 8));
      if ("errorCauses" in m && m.errorCauses !== undefined) f.causes(m.errorCauses);
      break;
    case AsapMessageType.handleResolution:
      f.handle(m.poolHandle);
      if (m.items !== undefined) f.add("hropt_items", String(m.items));
      break;
    case AsapMessageType.handleResolutionResponse:
      f.handle(m.poolHandle);
      if (m.policy !== undefined) f.policy(m.policy);
      for (const poolElement of m.poolElements) f.poolElement(poolElement);
      if (m.errorCauses !== undefined) f.causes(m.errorCauses);
      break;
    case AsapMessageType.endpointKeepAlive:
      f.add("server_identifier", hexNumber(m.serverId, 8));
      f.handle(m.poolHandle);
      if (m.poolElementId !== undefined) f.add("pe_identifier", hexNumber(m.poolElementId, 8));
      break;
    case AsapMessageType.serverAnnounce:
      f.add("server_identifier", hexNumber(m.serverId, 8));
      for (const transport of m.transports) f.transport(transport);
      break;
    case AsapMessageType.cookie:
    case AsapMessageType.cookieEcho:
      if (m.cookie.length > 0) f.add("cookie", toHex(m.cookie));
      break;
    case AsapMessageType.businessCard:
      f.handle(m.poolHandle);
      for (const poolElement of m.poolElements) f.poolElement(poolElement);
      break;
    case AsapMessageType.error:
      f.causes(m.errorCauses);
      break;
  }
}

function enrpFields(f: Fields, m: EnrpMessage): void {
  f.add("sender_servers_id", hexNumber(m.senderServerId, 8));
  f.add("receiver_servers_id", hexNumber(m.receiverServerId, 8));
  switch (m.type) {
    case EnrpMessageType.presence:
      f.add("pe_checksum", hexNumber(m.checksum, 4));
      if (m.serverInformation !== undefined) {
        f.add("server_information_server_identifier", hexNumber(m.serverInformation.serverId, 8));
        f.transport(m.serverInformation.transport);
      }
      break;
    case EnrpMessageType.handleTableResponse:
      for (const entry of m.entries) {
        f.handle(entry.poolHandle);
        for (const poolElement of entry.poolElements) f.poolElement(poolElement);
      }
      break;
    case EnrpMessageType.handleUpdate:
      f.add("update_action", String(m.action));
      f.handle(m.poolHandle);
      f.poolElement(m.poolElement);
      break;
    case EnrpMessageType.listResponse:
      for (const server of m.servers) {
        f.add("server_information_server_identifier", hexNumber(server.serverId, 8));
        f.transport(server.transport);
      }
      break;
    case EnrpMessageType.initTakeover:
    case EnrpMessageType.initTakeoverAck:
    case EnrpMessageType.takeoverServer:
      f.add("target_servers_id", hexNumber(m.targetServerId, 8));
      break;
    case EnrpMessageType.error:
      f.causes(m.errorCauses);
      break;
  }
}

/** The fields Wireshark shows for `message`, encoded as `bytes`, in wire order. */
export function expectedFields(
  protocol: "asap" | "enrp",
  message: AsapMessage | EnrpMessage,
  bytes: Uint8Array,
): FieldMap {
  const f = new Fields();
  f.header(bytes[0]!, bytes[1]!, (bytes[2]! << 8) | bytes[3]!);
  if (protocol === "asap") asapFields(f, message as AsapMessage);
  else enrpFields(f, message as EnrpMessage);
  return f.map;
}

/**
 * The compared fields of a `tshark -T json` layer (as `vectors.json` stores them), in document
 * order, byte fields without colons. JSON objects cannot hold repeated keys, so only a subset
 * of what tshark showed survives there: compare by membership.
 */
export function fieldsFromTsharkJson(layer: unknown, protocol: string): FieldMap {
  const map: FieldMap = new Map();
  const prefix = protocol + ".";
  const walk = (node: unknown): void => {
    if (typeof node !== "object" || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      if (typeof value === "string" && key.startsWith(prefix)) {
        const name = key.slice(prefix.length);
        if (!COMPARED_FIELDS.includes(name)) continue;
        const text = name === "pool_handle_pool_handle" || name === "cookie"
          ? value.replaceAll(":", "")
          : value;
        map.set(name, [...(map.get(name) ?? []), text]);
      } else {
        walk(value);
      }
    }
  };
  walk(layer);
  return map;
}
