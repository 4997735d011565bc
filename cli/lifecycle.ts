/**
 * The lifecycle every long-running command shares: the first SIGINT or SIGTERM starts a
 * graceful shutdown bounded in time; a second signal forces the exit at once.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { option } from "./flags.ts";
import { formatDuration, parseDuration } from "./values.ts";

/** How long a graceful shutdown may take before it is forced. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

/** Flags of every long-running command. */
export const LIFECYCLE_FLAGS = {
  "shutdown-grace": option(parseDuration, {
    description: "Longest graceful shutdown after SIGINT/SIGTERM before it is forced",
    valueName: "DURATION",
    default: formatDuration(DEFAULT_SHUTDOWN_GRACE_MS),
  }),
};

/** A component with the `Deno.serve` lifecycle shape. */
export interface Stoppable {
  /** Resolves when the component has stopped by itself or after `shutdown()`. */
  readonly finished: Promise<void>;
  /** Stops gracefully; idempotent. */
  shutdown(): Promise<void>;
}

/** Options of {@linkcode runUntilSignal}. */
export interface RunUntilSignalOptions {
  /** Longest graceful shutdown. @default {DEFAULT_SHUTDOWN_GRACE_MS} */
  readonly graceMs?: number;
  readonly logger: Logger;
  /** @default {["SIGINT", "SIGTERM"]} */
  readonly signals?: readonly Deno.Signal[];
}

/**
 * Runs `component` until it finishes or a signal arrives, then shuts it down within the grace
 * time. Resolves with the process exit code: 0 for a clean stop, 1 when the shutdown had to be
 * forced (grace time over, or a second signal).
 */
export async function runUntilSignal(
  component: Stoppable,
  options: RunUntilSignalOptions,
): Promise<number> {
  const graceMs = options.graceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
  const signals = options.signals ?? ["SIGINT", "SIGTERM"];
  const { promise: signalled, resolve: onSignal } = Promise.withResolvers<Deno.Signal>();
  const { promise: forced, resolve: onForce } = Promise.withResolvers<"forced">();
  let count = 0;
  const handlers = signals.map((signal) => {
    const handler = () => {
      count += 1;
      if (count === 1) onSignal(signal);
      else onForce("forced");
    };
    Deno.addSignalListener(signal, handler);
    return () => Deno.removeSignalListener(signal, handler);
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const first = await Promise.race([
      component.finished.then(() => "finished" as const),
      signalled,
    ]);
    if (first === "finished") return 0;
    options.logger.info(
      "Received {signal}: shutting down gracefully within {grace}; a second signal forces it",
      {
        signal: first,
        grace: formatDuration(graceMs),
      },
    );
    const expired = new Promise<"expired">((resolve) => {
      timer = setTimeout(() => resolve("expired"), graceMs);
    });
    const outcome = await Promise.race([
      component.shutdown().then(() => "done" as const),
      expired,
      forced,
    ]);
    if (outcome === "done") {
      options.logger.info("Stopped");
      return 0;
    }
    options.logger.warn("Shutdown forced ({why})", {
      why: outcome === "forced" ? "second signal" : "grace time over",
    });
    return 1;
  } finally {
    clearTimeout(timer);
    for (const remove of handlers) remove();
  }
}
