/**
 * Turns a decoded message into plain JSON data for operators (the CLI's `decode` command):
 * names for message types, policies, transports and causes; identifiers in hex; pool handles
 * as text when printable; opaque bytes in hex; loads also as percentages.
 */
import type { AsapMessage } from "./asap_messages.ts";
import {
  asapMessageName,
  enrpMessageName,
  errorCauseName,
  policyName,
  transportName,
} from "./code_names.ts";
import { ParameterType } from "./codes.ts";
import type { EnrpMessage } from "./enrp_messages.ts";
import type { ErrorCause, TransportParameter } from "./parameters.ts";
import { isKnownPolicy, type SelectionPolicy } from "./selection_policy.ts";

/** A value `JSON.stringify` prints as it is. */
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
/** A JSON object. */
export interface JsonObject {
  [key: string]: JsonValue;
}

const IDENTIFIER_KEYS: ReadonlySet<string> = new Set([
  "identifier",
  "homeRegistrarId",
  "poolElementId",
  "serverId",
  "senderServerId",
  "receiverServerId",
  "targetServerId",
]);
const PERCENT_KEYS: ReadonlySet<string> = new Set(["load", "loadDegradation"]);
const TRANSPORT_KEYS: ReadonlySet<string> = new Set([
  "userTransport",
  "asapTransport",
  "transport",
  "transports",
]);
const TEXT_DECODER = new TextDecoder("utf-8", { fatal: true });

function hex(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += byte.toString(16).padStart(2, "0");
  return text;
}

/** The handle as UTF-8 text when it is valid and has no control characters, else undefined. */
function printable(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    text = TEXT_DECODER.decode(bytes);
  } catch {
    return undefined;
  }
  // deno-lint-ignore no-control-regex
  return /[\u0000-\u001f\u007f-\u009f]/.test(text) ? undefined : text;
}

function percent(value: number): number {
  return Math.round((value / 0xffffffff) * 1e6) / 1e4;
}

function policyJson(policy: SelectionPolicy): JsonObject {
  const json: JsonObject = {
    name: policyName(policy.type),
    type: "0x" + policy.type.toString(16).padStart(8, "0"),
  };
  if (!isKnownPolicy(policy)) {
    json.value = hex(policy.opaque);
    return json;
  }
  for (const [key, value] of Object.entries(policy)) {
    if (key === "type") continue;
    json[key] = value;
    if (PERCENT_KEYS.has(key)) json[`${key}Percent`] = percent(value);
  }
  return json;
}

function transportJson(transport: TransportParameter): JsonObject {
  const json: JsonObject = { protocol: transportName(transport.type) };
  if (transport.type === ParameterType.opaqueTransport) {
    json.data = hex(transport.data);
    return json;
  }
  json.port = transport.port;
  if ("transportUse" in transport) {
    json.transportUse = transport.transportUse === 0 ? "data only" : "data plus control";
  }
  if ("serviceCode" in transport) json.serviceCode = transport.serviceCode;
  json.addresses = [...transport.addresses];
  return json;
}

function causeJson(cause: ErrorCause): JsonObject {
  const json: JsonObject = { code: cause.code, name: errorCauseName(cause.code) };
  if (cause.info.length > 0) json.info = hex(cause.info);
  return json;
}

function convert(key: string, value: unknown): JsonValue {
  if (value instanceof Uint8Array) return hex(value);
  if (Array.isArray(value)) return value.map((item) => convert(key, item));
  if (typeof value === "number") {
    return IDENTIFIER_KEYS.has(key) ? "0x" + value.toString(16).padStart(8, "0") : value;
  }
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value !== "object" || value === null) return null;
  if (key === "policy") return policyJson(value as SelectionPolicy);
  if (TRANSPORT_KEYS.has(key)) return transportJson(value as TransportParameter);
  if (key === "errorCauses") return causeJson(value as ErrorCause);
  return convertObject(value as Record<string, unknown>);
}

function convertObject(object: Record<string, unknown>): JsonObject {
  const json: JsonObject = {};
  for (const [key, value] of Object.entries(object)) {
    if (key === "poolHandle" && value instanceof Uint8Array) {
      const text = printable(value);
      if (text === undefined) json.poolHandleHex = hex(value);
      else json.poolHandle = text;
    } else if (key === "action" && typeof value === "number") {
      json.action = value === 0 ? "ADD_PE" : value === 1 ? "DEL_PE" : value;
    } else if (key === "checksum" && typeof value === "number") {
      json.checksum = "0x" + value.toString(16).padStart(4, "0");
    } else {
      json[key] = convert(key, value);
    }
  }
  return json;
}

/**
 * Plain JSON-able data describing `message`: `protocol`, `message` (the RFC name), `type`
 * (the code), then its fields. ENRP messages are told apart by their server IDs.
 */
export function messageToJson(message: AsapMessage | EnrpMessage): JsonObject {
  const enrp = "senderServerId" in message;
  const { type, ...fields } = message;
  return {
    protocol: enrp ? "ENRP" : "ASAP",
    message: enrp ? enrpMessageName(type) : asapMessageName(type),
    type,
    ...convertObject(fields),
  };
}
