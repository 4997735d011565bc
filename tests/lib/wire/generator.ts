/**
 * Seeded generator of random valid ASAP and ENRP messages of every type, for round-trip,
 * fuzz and Wireshark tests. Everything it makes is what the decoder returns: addresses in
 * canonical text, optional fields absent rather than undefined. Error cause info is what
 * Wireshark can dissect (a TLV for causes 0x1/0x3/0x5/0x7, a message for 0x2).
 */
import {
  type AsapMessage,
  AsapMessageType,
  type EnrpMessage,
  EnrpMessageType,
  type ErrorCause,
  ErrorCauseCode,
  formatIpv4,
  formatIpv6,
  type IpAddress,
  ParameterType,
  PolicyType,
  type PoolElementParameter,
  type SctpOrTcpTransport,
  type SelectionPolicy,
  type ServerInformation,
  type TransportParameter,
  TransportUse,
  UpdateAction,
} from "../../../lib/wire/mod.ts";
import { writeSelectionPolicy } from "../../../lib/wire/policy_parameter.ts";
import { writeTransportParameter } from "../../../lib/wire/transport_parameters.ts";
import { WireWriter } from "../../../lib/wire/writer.ts";

/** A small seeded pseudo-random source (mulberry32): the same seed gives the same sequence. */
export class Random {
  #state: number;

  /** Starts the sequence for `seed`. */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A uniform u32. */
  u32(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform integer in [0, bound). */
  below(bound: number): number {
    return Math.floor((this.u32() / 0x100000000) * bound);
  }

  /** A uniform integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.below(max - min + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }

  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }

  /** `count` random bytes. */
  bytes(count: number): Uint8Array {
    const bytes = new Uint8Array(count);
    for (let i = 0; i < count; i++) bytes[i] = this.below(256);
    return bytes;
  }
}

/** Every ASAP message type. */
export const ASAP_TYPES: readonly AsapMessageType[] = Object.values(AsapMessageType);
/** Every ENRP message type. */
export const ENRP_TYPES: readonly EnrpMessageType[] = Object.values(EnrpMessageType);
/** Every policy type whose layout Poolgate knows. */
export const KNOWN_POLICY_TYPES: readonly PolicyType[] = Object.values(PolicyType);

const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.";

/** A pool handle: printable text half of the time, arbitrary bytes otherwise. */
export function randomPoolHandle(random: Random): Uint8Array {
  const length = random.between(1, 24);
  if (random.chance(0.5)) return random.bytes(length);
  return Uint8Array.from({ length }, () => LETTERS.charCodeAt(random.below(LETTERS.length)));
}

/** An IPv4 or IPv6 address in canonical text, IPv6 with zero runs and IPv4-mapped forms. */
export function randomAddress(random: Random): IpAddress {
  if (random.chance(0.6)) return formatIpv4(random.bytes(4), 0);
  const bytes = new Uint8Array(16);
  if (random.chance(0.2)) {
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    bytes.set(random.bytes(4), 12);
  } else {
    for (let group = 0; group < 8; group++) {
      if (random.chance(0.4)) continue;
      bytes[2 * group] = random.chance(0.5) ? 0 : random.below(256);
      bytes[2 * group + 1] = random.below(256);
    }
  }
  return formatIpv6(bytes, 0);
}

function randomAddresses(random: Random, count: number): IpAddress[] {
  return Array.from({ length: count }, () => randomAddress(random));
}

/** An SCTP (1..3 addresses) or TCP transport. */
export function randomSctpOrTcpTransport(random: Random): SctpOrTcpTransport {
  const sctp = random.chance(0.5);
  return {
    type: sctp ? ParameterType.sctpTransport : ParameterType.tcpTransport,
    port: random.below(65536),
    transportUse: random.chance(0.5) ? TransportUse.dataOnly : TransportUse.dataPlusControl,
    addresses: randomAddresses(random, sctp ? random.between(1, 3) : 1),
  };
}

/** A user transport of any kind. */
export function randomTransport(random: Random): TransportParameter {
  const port = random.below(65536);
  switch (random.below(6)) {
    case 0:
      return {
        type: ParameterType.udpTransport,
        port,
        addresses: randomAddresses(random, 1),
      };
    case 1:
      return {
        type: ParameterType.udpLiteTransport,
        port,
        addresses: randomAddresses(random, 1),
      };
    case 2:
      return {
        type: ParameterType.dccpTransport,
        port,
        serviceCode: random.u32(),
        addresses: randomAddresses(random, 1),
      };
    case 3:
      return { type: ParameterType.opaqueTransport, data: random.bytes(random.between(0, 16)) };
    default:
      return randomSctpOrTcpTransport(random);
  }
}

/** A policy of any known type, or an unknown private type kept opaque. */
export function randomPolicy(random: Random): SelectionPolicy {
  if (random.chance(0.1)) {
    // 0xc... private codes that no known policy uses.
    return { type: 0xc0000000 + random.below(0x1000000), opaque: random.bytes(random.below(13)) };
  }
  const type = random.pick(KNOWN_POLICY_TYPES);
  switch (type) {
    case PolicyType.roundRobin:
    case PolicyType.random:
      return { type };
    case PolicyType.weightedRoundRobin:
    case PolicyType.weightedRandom:
      return { type, weight: random.u32() };
    case PolicyType.priority:
      return { type, priority: random.u32() };
    case PolicyType.leastUsed:
    case PolicyType.randomizedLeastUsed:
      return { type, load: random.u32() };
    case PolicyType.weightedRandomDpf:
      return { type, weight: random.u32(), weightDpf: random.u32(), distance: random.u32() };
    case PolicyType.leastUsedDpf:
      return { type, load: random.u32(), loadDpf: random.u32(), distance: random.u32() };
    case PolicyType.leastUsedDegradationDpf:
    case PolicyType.priorityLeastUsedDpf:
    case PolicyType.priorityLeastUsedDegradationDpf:
      return {
        type,
        load: random.u32(),
        loadDegradation: random.u32(),
        loadDpf: random.u32(),
        distance: random.u32(),
      };
    default:
      return { type, load: random.u32(), loadDegradation: random.u32() };
  }
}

/** A pool element; `withAsapTransport` as the registrar fills it in for ENRP. */
export function randomPoolElement(
  random: Random,
  withAsapTransport = random.chance(0.3),
): PoolElementParameter {
  const poolElement = {
    identifier: random.u32(),
    homeRegistrarId: random.u32(),
    registrationLife: random.chance(0.1) ? -1 : random.u32() | 0,
    userTransport: randomTransport(random),
    policy: randomPolicy(random),
  };
  return withAsapTransport
    ? { ...poolElement, asapTransport: randomSctpOrTcpTransport(random) }
    : poolElement;
}

function randomPoolElements(random: Random, min: number, max: number): PoolElementParameter[] {
  return Array.from({ length: random.between(min, max) }, () => randomPoolElement(random));
}

// The TLV exactly as long as its Length says (no final padding), as cause info carries it.
function tlv(write: (w: WireWriter) => void): Uint8Array {
  const w = new WireWriter();
  const mark = w.beginMessage(0, 0);
  write(w);
  const bytes = w.finishMessage(mark, "TLV");
  return bytes.slice(4, 4 + ((bytes[6]! << 8) | bytes[7]!));
}

function randomCause(random: Random, protocol: "asap" | "enrp"): ErrorCause {
  const code = random.chance(0.1) ? random.between(0x0100, 0xffff) : random.between(0, 10);
  switch (code) {
    case ErrorCauseCode.unrecognizedParameter: {
      const value = random.bytes(random.below(8));
      const header = Uint8Array.of(0x40 | random.between(1, 0x3f), random.below(256), 0, 0);
      header[3] = 4 + value.length;
      return { code, info: Uint8Array.from([...header, ...value]) };
    }
    case ErrorCauseCode.unrecognizedMessage: {
      const body = protocol === "enrp" ? random.bytes(8) : new Uint8Array(0);
      return {
        code,
        info: Uint8Array.from([0x40 | random.between(0x10, 0x3f), 0, 0, 4 + body.length, ...body]),
      };
    }
    case ErrorCauseCode.invalidValues: {
      const cookie = random.bytes(random.below(8));
      return {
        code,
        info: Uint8Array.from([0, ParameterType.cookie, 0, 4 + cookie.length, ...cookie]),
      };
    }
    case ErrorCauseCode.inconsistentPoolingPolicy:
      return { code, info: tlv((w) => writeSelectionPolicy(w, randomPolicy(random))) };
    case ErrorCauseCode.inconsistentTransportType:
      return {
        code,
        info: tlv((w) => writeTransportParameter(w, randomSctpOrTcpTransport(random))),
      };
    default:
      return { code, info: code <= 10 ? new Uint8Array(0) : random.bytes(random.below(10)) };
  }
}

/** 1..3 error causes, with info Wireshark can dissect for `protocol`. */
export function randomCauses(random: Random, protocol: "asap" | "enrp"): ErrorCause[] {
  return Array.from({ length: random.between(1, 3) }, () => randomCause(random, protocol));
}

function randomServerInformation(random: Random): ServerInformation {
  return { serverId: random.u32(), transport: randomSctpOrTcpTransport(random) };
}

/** A random valid ASAP message of `type` (a random type when omitted). */
export function randomAsapMessage(
  random: Random,
  type: AsapMessageType = random.pick(ASAP_TYPES),
): AsapMessage {
  const poolHandle = randomPoolHandle(random);
  switch (type) {
    case AsapMessageType.registration:
      return { type, poolHandle, poolElement: randomPoolElement(random) };
    case AsapMessageType.deregistration:
    case AsapMessageType.endpointKeepAliveAck:
    case AsapMessageType.endpointUnreachable:
      return { type, poolHandle, poolElementId: random.u32() };
    case AsapMessageType.registrationResponse: {
      const base = { type, reject: random.chance(0.5), poolHandle, poolElementId: random.u32() };
      return random.chance(0.5) ? { ...base, errorCauses: randomCauses(random, "asap") } : base;
    }
    case AsapMessageType.deregistrationResponse: {
      const base = { type, poolHandle, poolElementId: random.u32() };
      return random.chance(0.5) ? { ...base, errorCauses: randomCauses(random, "asap") } : base;
    }
    case AsapMessageType.handleResolution:
      return random.chance(0.5)
        ? { type, poolHandle }
        : { type, poolHandle, items: random.chance(0.3) ? 0xffffffff : random.below(256) };
    case AsapMessageType.handleResolutionResponse: {
      const base = { type, poolHandle, poolElements: randomPoolElements(random, 0, 3) };
      const withPolicy = random.chance(0.7) ? { ...base, policy: randomPolicy(random) } : base;
      return random.chance(0.2)
        ? { ...withPolicy, errorCauses: randomCauses(random, "asap") }
        : withPolicy;
    }
    case AsapMessageType.endpointKeepAlive: {
      const base = { type, home: random.chance(0.5), serverId: random.u32(), poolHandle };
      return random.chance(0.5) ? { ...base, poolElementId: random.u32() } : base;
    }
    case AsapMessageType.serverAnnounce:
      return {
        type,
        serverId: random.u32(),
        transports: Array.from(
          { length: random.below(3) },
          () => randomSctpOrTcpTransport(random),
        ),
      };
    case AsapMessageType.cookie:
    case AsapMessageType.cookieEcho:
      return { type, cookie: random.bytes(random.below(41)) };
    case AsapMessageType.businessCard:
      return { type, poolHandle, poolElements: randomPoolElements(random, 1, 3) };
    case AsapMessageType.error:
      return { type, errorCauses: randomCauses(random, "asap") };
  }
}

/** A random valid ENRP message of `type` (a random type when omitted). */
export function randomEnrpMessage(
  random: Random,
  type: EnrpMessageType = random.pick(ENRP_TYPES),
): EnrpMessage {
  const senderServerId = random.u32();
  const receiverServerId = random.u32();
  switch (type) {
    case EnrpMessageType.presence: {
      const base = {
        type,
        senderServerId,
        receiverServerId,
        replyRequired: random.chance(0.5),
        checksum: random.below(65536),
      };
      return random.chance(0.6)
        ? { ...base, serverInformation: randomServerInformation(random) }
        : base;
    }
    case EnrpMessageType.handleTableRequest:
      return { type, senderServerId, receiverServerId, ownChildrenOnly: random.chance(0.5) };
    case EnrpMessageType.handleTableResponse:
      return {
        type,
        senderServerId,
        receiverServerId,
        reject: random.chance(0.2),
        more: random.chance(0.5),
        entries: Array.from({ length: random.below(4) }, () => ({
          poolHandle: randomPoolHandle(random),
          poolElements: Array.from(
            { length: random.between(1, 3) },
            () => randomPoolElement(random, random.chance(0.8)),
          ),
        })),
      };
    case EnrpMessageType.handleUpdate:
      return {
        type,
        senderServerId,
        receiverServerId,
        takeoverSuggested: random.chance(0.3),
        action: random.chance(0.5) ? UpdateAction.addPoolElement : UpdateAction.deletePoolElement,
        poolHandle: randomPoolHandle(random),
        poolElement: randomPoolElement(random, random.chance(0.8)),
      };
    case EnrpMessageType.listRequest:
      return { type, senderServerId, receiverServerId };
    case EnrpMessageType.listResponse:
      return {
        type,
        senderServerId,
        receiverServerId,
        reject: random.chance(0.2),
        servers: Array.from({ length: random.below(4) }, () => randomServerInformation(random)),
      };
    case EnrpMessageType.initTakeover:
    case EnrpMessageType.initTakeoverAck:
    case EnrpMessageType.takeoverServer:
      return { type, senderServerId, receiverServerId, targetServerId: random.u32() };
    case EnrpMessageType.error:
      return { type, senderServerId, receiverServerId, errorCauses: randomCauses(random, "enrp") };
  }
}
