/**
 * Runs `echo_server.ts` as a real child process, so tests can kill it, stop it (SIGSTOP) and
 * continue it (SIGCONT) like a legacy server.
 *
 * @module
 */

/** Options of {@linkcode startEchoProcess}. */
export interface EchoProcessOptions {
  /** Address the server listens on. @default {"127.0.0.1"} */
  hostname?: string;
  /** Milliseconds the server waits before echoing each chunk. @default {0} */
  delayMs?: number;
}

/** A running echo server process; disposing it kills it and waits for its exit. */
export interface EchoProcess extends AsyncDisposable {
  /** The port it listens on. */
  readonly port: number;
  /** Its process id. */
  readonly pid: number;
  /** Sends `signal` to it (SIGKILL, SIGSTOP, SIGCONT, …). */
  kill(signal: Deno.Signal): void;
  /** Resolves when it has exited. */
  readonly status: Promise<Deno.CommandStatus>;
}

const SERVER_PATH = new URL("./echo_server.ts", import.meta.url).pathname;

/** Starts the echo server and resolves once it listens, with the port it printed. */
export async function startEchoProcess(options: EchoProcessOptions = {}): Promise<EchoProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      SERVER_PATH,
      "--hostname",
      options.hostname ?? "127.0.0.1",
      "--port",
      "0",
      "--delay-ms",
      String(options.delayMs ?? 0),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const dispose = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // It has exited already.
    }
    await child.status;
  };
  let port: number;
  try {
    port = await readPort(child.stdout);
  } catch (error) {
    await dispose();
    throw error;
  }
  return {
    port,
    pid: child.pid,
    kill: (signal) => child.kill(signal),
    status: child.status,
    [Symbol.asyncDispose]: dispose,
  };
}

/** Reads the first line, then lets go of stdout: the server prints nothing more. */
async function readPort(stdout: ReadableStream<Uint8Array>): Promise<number> {
  const reader = stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`Cannot start echo server: it exited after printing "${text}"`);
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel();
  }
  const port = Number(text.slice(0, text.indexOf("\n")));
  if (!Number.isInteger(port) || port < 1) {
    throw new Error(`Cannot start echo server: its first line is not a port: "${text}"`);
  }
  return port;
}
