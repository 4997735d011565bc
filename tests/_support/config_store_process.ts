/**
 * Runs `config_store_writer.ts` as a real child process whose stdout the test reads line by
 * line, so it can SIGKILL the writer right after a `written` line or start two at once.
 *
 * @module
 */

/** Options of {@linkcode startConfigStoreWriter}. */
export interface ConfigStoreWriterOptions {
  /** The store's data directory. */
  dataDir: string;
  /** Pool handle and id prefix of the records written. */
  prefix: string;
  /** How many records to write. */
  count: number;
  /** Wait after `ready` until {@linkcode ConfigStoreWriter.go} is called. @default {false} */
  waitGo?: boolean;
}

/** A running writer; disposing it kills it and waits for its exit. */
export interface ConfigStoreWriter extends AsyncDisposable {
  /** The next line it printed, without the newline; undefined once stdout has ended. */
  nextLine(): Promise<string | undefined>;
  /** Reads lines until one equals `line`; throws if stdout ends first. */
  waitFor(line: string): Promise<string[]>;
  /** Tells a writer started with `waitGo` to start writing. */
  go(): Promise<void>;
  /** Sends `signal` to it. */
  kill(signal: Deno.Signal): void;
  /** Resolves when it has exited. */
  readonly status: Promise<Deno.CommandStatus>;
}

const WRITER_PATH = new URL("./config_store_writer.ts", import.meta.url).pathname;
const CONFIG_PATH = new URL("../../deno.json", import.meta.url).pathname;

/** Starts the writer; it prints `ready` once the store is open. */
export function startConfigStoreWriter(options: ConfigStoreWriterOptions): ConfigStoreWriter {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      `--config=${CONFIG_PATH}`,
      "--allow-read",
      "--allow-write",
      WRITER_PATH,
      `--data-dir=${options.dataDir}`,
      `--prefix=${options.prefix}`,
      `--count=${options.count}`,
      ...(options.waitGo ? ["--wait-go"] : []),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stdin = child.stdin.getWriter();
  let pending = "";
  let ended = false;

  async function nextLine(): Promise<string | undefined> {
    while (!pending.includes("\n")) {
      if (ended) return undefined;
      const { value, done } = await lines.read();
      if (done) ended = true;
      else pending += value;
    }
    const newline = pending.indexOf("\n");
    const line = pending.slice(0, newline);
    pending = pending.slice(newline + 1);
    return line;
  }

  return {
    nextLine,
    async waitFor(line) {
      const seen: string[] = [];
      for (;;) {
        const next = await nextLine();
        if (next === undefined) {
          throw new Error(`Writer ${options.prefix} ended before printing "${line}"`);
        }
        seen.push(next);
        if (next === line) return seen;
      }
    },
    async go() {
      await stdin.write(new TextEncoder().encode("go\n"));
    },
    kill: (signal) => child.kill(signal),
    status: child.status,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // It has exited already.
      }
      await child.status;
      await stdin.close().catch(() => {});
      await lines.cancel();
    },
  };
}
