/**
 * Real registrars for the ASAP endpoint tests: `main.ts registrar` as a child process, found at
 * the address it logs, and killed (SIGKILL, no goodbye) when a test wants its home to vanish.
 */
import type { RegistrarAddress } from "../../../lib/asap/server_hunt.ts";
import { type PoolgateProcess, spawnPoolgate } from "../../_support/poolgate_process.ts";

/** Registrar settings the tests change; the rest keep the registrar's defaults. */
export interface TestRegistrarOptions {
  /** Port to listen on; 0 picks a free one. */
  readonly port?: number;
  readonly keepAliveIntervalMs?: number;
  readonly keepAliveTimeoutMs?: number;
  readonly maxBadPeReports?: number;
}

/** A registrar process; disposal kills it. */
export interface TestRegistrar extends AsyncDisposable {
  readonly address: RegistrarAddress;
  readonly process: PoolgateProcess;
  /** Kills the process at once (SIGKILL) and waits for it to exit. */
  kill(): Promise<void>;
}

const LISTENING = /listening on \W*(?:\[([0-9a-f:]+)\]|([0-9.]+)):(\d+)/;

/** Starts `main.ts registrar` on 127.0.0.1 and resolves once it listens. */
export async function startTestRegistrar(
  options: TestRegistrarOptions = {},
): Promise<TestRegistrar> {
  const args = ["registrar", "--asap", `127.0.0.1:${options.port ?? 0}`];
  if (options.keepAliveIntervalMs !== undefined) {
    args.push("--keep-alive-interval", `${options.keepAliveIntervalMs}ms`);
  }
  if (options.keepAliveTimeoutMs !== undefined) {
    args.push("--keep-alive-timeout", `${options.keepAliveTimeoutMs}ms`);
  }
  if (options.maxBadPeReports !== undefined) {
    args.push("--max-bad-pe-reports", `${options.maxBadPeReports}`);
  }
  const process = spawnPoolgate(args);
  let line: string;
  try {
    line = await process.waitForLine(LISTENING, 10_000);
  } catch (error) {
    await process[Symbol.asyncDispose]();
    throw error;
  }
  const [, ipv6, ipv4, port] = LISTENING.exec(line)!;
  const address = { hostname: ipv6 ?? ipv4!, port: Number(port) };
  let killed: Promise<void> | undefined;
  const kill = (): Promise<void> => {
    killed ??= Promise.resolve(process[Symbol.asyncDispose]());
    return killed;
  };
  return { address, process, kill, [Symbol.asyncDispose]: kill };
}
