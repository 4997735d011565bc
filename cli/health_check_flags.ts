/**
 * The health-check flags that `serve` (static members) and `pe` (the sidecar's backend) share,
 * and the check settings they turn into.
 *
 * @module
 */
import {
  DEFAULT_HEALTH_CHECK_FALL,
  DEFAULT_HEALTH_CHECK_INTERVAL_MS,
  DEFAULT_HEALTH_CHECK_MAX_REPLY_BYTES,
  DEFAULT_HEALTH_CHECK_RISE,
  DEFAULT_HEALTH_CHECK_TIMEOUT_MS,
  parseCEscapes,
} from "../lib/health/mod.ts";
import { durationOption, type FlagValues, option, optionalOption, UsageError } from "./flags.ts";
import { integerIn } from "./values.ts";

/** `--check-*`: how a legacy server's health is checked. */
export const HEALTH_CHECK_FLAGS = {
  "check-send": optionalOption(parseCEscapes, {
    description: "Bytes each health check sends (C escapes: \\n, \\r, \\t, \\\\, \\0, \\xNN)",
    valueName: "TEXT",
  }),
  "check-expect": optionalOption(parseCEscapes, {
    description:
      "Bytes the reply must contain; goes with --check-send (without both, a TCP connect suffices)",
    valueName: "TEXT",
  }),
  "check-interval": durationOption(
    "Time from one health check to the next",
    DEFAULT_HEALTH_CHECK_INTERVAL_MS,
  ),
  "check-timeout": durationOption(
    "Longest health check (connect, send and reply)",
    DEFAULT_HEALTH_CHECK_TIMEOUT_MS,
  ),
  "check-fall": option(integerIn(1, 1000), {
    description: "Failed checks in a row that withdraw the server from its pool",
    valueName: "N",
    default: String(DEFAULT_HEALTH_CHECK_FALL),
  }),
  "check-rise": option(integerIn(1, 1000), {
    description: "Passed checks in a row that bring it back",
    valueName: "N",
    default: String(DEFAULT_HEALTH_CHECK_RISE),
  }),
};

/** What the `--check-*` flags say, as `startHealthCheck` takes it. */
export interface HealthCheckSettings {
  readonly send?: Uint8Array;
  readonly expect?: Uint8Array;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly fall: number;
  readonly rise: number;
}

/**
 * Reads the `--check-*` values.
 *
 * @throws {UsageError} when only one of send and expect is given, or expect cannot be matched.
 */
export function healthCheckSettings(
  values: FlagValues<typeof HEALTH_CHECK_FLAGS>,
): HealthCheckSettings {
  const send = values["check-send"];
  const expect = values["check-expect"];
  if ((send === undefined) !== (expect === undefined)) {
    throw new UsageError("--check-send and --check-expect go together: give both or neither");
  }
  if (expect !== undefined && expect.length === 0) {
    throw new UsageError("--check-expect is empty: leave out both --check-send and --check-expect");
  }
  if (expect !== undefined && expect.length > DEFAULT_HEALTH_CHECK_MAX_REPLY_BYTES) {
    throw new UsageError(
      `--check-expect is longer than the ${DEFAULT_HEALTH_CHECK_MAX_REPLY_BYTES} reply bytes a check reads`,
    );
  }
  return {
    ...(send === undefined ? {} : { send }),
    ...(expect === undefined ? {} : { expect }),
    intervalMs: values["check-interval"],
    timeoutMs: values["check-timeout"],
    fall: values["check-fall"],
    rise: values["check-rise"],
  };
}
