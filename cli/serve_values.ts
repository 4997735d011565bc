/**
 * The value forms of `serve`'s proxy flags: `--listen [HOST:]PORT=HANDLE`,
 * `--listen-tls` and `--listen-http [HOST:]PORT`, `--handle-suffix .DOMAIN`,
 * `--member HANDLE=HOST:PORT[,key=value…]` and `--pool HANDLE:key=value,…`. Each parser throws a
 * `RangeError` saying what was expected; {@linkcode parseFlags} adds the flag's name.
 *
 * @module
 */
import { type PolicyShortName, policyShortName } from "../lib/wire/policy_text.ts";
import type {
  FailoverMode,
  FinProbe,
  PoolSettings,
  ProxyProtocolVersion,
} from "../proxy/settings.ts";
import { isHandleSuffix } from "../proxy/front_listener.ts";
import { integerIn, oneOf, parseDuration, parseHostPort } from "./values.ts";

/** Front listeners bind to loopback unless a host is given. */
export const DEFAULT_LISTEN_HOST = "127.0.0.1";

/** A `--listen` value. */
export interface ListenSpec {
  readonly hostname: string;
  readonly port: number;
  readonly pool: string;
}

/** Parses `[HOST:]PORT=HANDLE`. */
export function parseListen(text: string): ListenSpec {
  const equals = text.lastIndexOf("=");
  if (equals <= 0 || equals === text.length - 1) {
    throw new RangeError("expected [HOST:]PORT=HANDLE, such as 8000=echo");
  }
  const address = parseHostPort(text.slice(0, equals), DEFAULT_LISTEN_HOST);
  return { ...address, pool: text.slice(equals + 1) };
}

/** A `--listen-tls` or `--listen-http` value: the pool comes from the host name asked for. */
export interface HostListenSpec {
  readonly hostname: string;
  readonly port: number;
}

/** Parses `[HOST:]PORT` of a listener that takes the pool from the host name. */
export function parseHostListen(text: string): HostListenSpec {
  if (text.includes("=")) {
    throw new RangeError(
      "expected [HOST:]PORT: the pool comes from the host name the client asks for, less --handle-suffix",
    );
  }
  return parseHostPort(text, DEFAULT_LISTEN_HOST);
}

/** Parses a handle suffix: "." and a DNS host name, such as ".pool.example". */
export function parseHandleSuffix(text: string): string {
  if (!isHandleSuffix(text)) {
    throw new RangeError('expected "." followed by a DNS name, such as .pool.example');
  }
  return text;
}

/** Policy values a member may carry, in operator units (percent for loads). */
export interface MemberValues {
  readonly weight?: number;
  readonly priority?: number;
  readonly load?: number;
  readonly loadDegradation?: number;
}

/** A `--member` value. */
export interface MemberSpec {
  readonly pool: string;
  readonly hostname: string;
  readonly port: number;
  readonly values: MemberValues;
}

const percent = (text: string) => {
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) > 100) {
    throw new RangeError("expected a percentage from 0 to 100");
  }
  return Number(text);
};
const u32 = integerIn(0, 0xffff_ffff);

/** Parses `HANDLE=HOST:PORT[,weight=N][,priority=N][,load=PCT][,degradation=PCT]`. */
export function parseMember(text: string): MemberSpec {
  const equals = text.indexOf("=");
  if (equals <= 0) throw new RangeError("expected HANDLE=HOST:PORT, such as echo=127.0.0.1:7001");
  const [address = "", ...pairs] = text.slice(equals + 1).split(",");
  const values: { weight?: number; priority?: number; load?: number; loadDegradation?: number } =
    {};
  for (const pair of pairs) {
    const [key, value] = splitPair(pair);
    if (key === "weight") values.weight = u32(value);
    else if (key === "priority") values.priority = u32(value);
    else if (key === "load") values.load = percent(value);
    else if (key === "degradation") values.loadDegradation = percent(value);
    else {throw new RangeError(
        `unknown member key ${JSON.stringify(key)}; use weight, priority, load or degradation`,
      );}
  }
  return { pool: text.slice(0, equals), ...parseHostPort(address), values };
}

/** A `--pool` value: the pool's policy and its proxy settings. */
export interface PoolSpec {
  readonly pool: string;
  readonly policy?: PolicyShortName;
  readonly settings: PoolSettings;
}

function splitPair(pair: string): [string, string] {
  const equals = pair.indexOf("=");
  if (equals <= 0) throw new RangeError(`expected key=value, not ${JSON.stringify(pair)}`);
  return [pair.slice(0, equals), pair.slice(equals + 1)];
}

const POOL_KEYS = [
  "policy",
  "failover",
  "max-failovers",
  "replay-buffer",
  "connect-timeout",
  "idle-timeout",
  "proxy-protocol",
  "fin-probe",
] as const;

/**
 * Parses `HANDLE:key=value,…` with the keys policy (rr, wrr, …), failover (migrate|sever),
 * max-failovers, replay-buffer (bytes), connect-timeout, idle-timeout (durations; 0s turns the
 * idle timeout off), proxy-protocol (off|v1|v2) and fin-probe (unless-done|if-unanswered|off).
 * The handle ends at the first colon.
 */
export function parsePool(text: string): PoolSpec {
  const colon = text.indexOf(":");
  if (colon <= 0) {
    throw new RangeError("expected HANDLE:key=value,…, such as echo:failover=migrate");
  }
  const settings: {
    -readonly [K in keyof PoolSettings]: PoolSettings[K];
  } = {};
  let policy: PolicyShortName | undefined;
  for (const pair of text.slice(colon + 1).split(",").filter((p) => p !== "")) {
    const [key, value] = splitPair(pair);
    switch (oneOf(POOL_KEYS)(key)) {
      case "policy":
        policy = policyShortName(value);
        if (policy === undefined) throw new RangeError(`unknown policy ${JSON.stringify(value)}`);
        break;
      case "failover":
        settings.failover = oneOf<FailoverMode>(["migrate", "sever"])(value);
        break;
      case "max-failovers":
        settings.maxFailovers = integerIn(0, 1000)(value);
        break;
      case "replay-buffer":
        settings.replayBufferBytes = integerIn(1, 64 * 1024 * 1024)(value);
        break;
      case "connect-timeout":
        settings.connectTimeoutMs = parseDuration(value);
        break;
      case "idle-timeout":
        settings.idleTimeoutMs = parseDuration(value);
        break;
      case "proxy-protocol":
        settings.proxyProtocol = oneOf<ProxyProtocolVersion>(["off", "v1", "v2"])(value);
        break;
      case "fin-probe":
        settings.finProbe = oneOf<FinProbe>(["unless-done", "if-unanswered", "off"])(value);
        break;
    }
  }
  return { pool: text.slice(0, colon), ...(policy ? { policy } : {}), settings };
}
