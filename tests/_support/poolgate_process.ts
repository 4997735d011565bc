/**
 * Runs `main.ts` as a real child process for end-to-end tests: lines of stdout and stderr can
 * be awaited with a deadline, and disposal kills the process and waits for it.
 */

import assert from "node:assert/strict";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A running `main.ts` child. */
export interface PoolgateProcess extends AsyncDisposable {
  readonly child: Deno.ChildProcess;
  /** Every line printed so far on stdout. */
  readonly stdoutLines: string[];
  /** Every line printed so far on stderr. */
  readonly stderrLines: string[];
  /** Resolves with the first line (stdout or stderr, past or future) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit status, rejecting after `timeoutMs`. */
  waitForExit(timeoutMs?: number): Promise<Deno.CommandStatus>;
}

/**
 * Spawns `deno run -A main.ts ...args` with `env` added to the environment. Unless `env` says
 * otherwise, the process keeps its state in a temporary directory of its own and binds the admin
 * API to a free port, so that tests neither share `~/.local/state/poolgate` nor race for 8080.
 */
export function spawnPoolgate(
  args: readonly string[],
  options: { env?: Record<string, string> } = {},
): PoolgateProcess {
  const stateHome = Deno.makeTempDirSync({ prefix: "poolgate-test-state-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    env: {
      NO_COLOR: "1",
      XDG_STATE_HOME: stateHome,
      POOLGATE_ADMIN: "127.0.0.1:0",
      ...options.env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdoutLines: string[] = [];
  const stderrLines: string[] = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  const onLine = (line: string) => {
    for (const waiter of waiters) {
      if (waiter.pattern.test(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  };
  async function pump(stream: ReadableStream<Uint8Array>, lines: string[]) {
    let rest = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + text).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        onLine(line);
      }
    }
    if (rest !== "") {
      lines.push(rest);
      onLine(rest);
    }
  }
  const pumps = Promise.all([pump(child.stdout, stdoutLines), pump(child.stderr, stderrLines)]);
  const status = child.status.finally(() => Deno.removeSync(stateHome, { recursive: true }));

  function withDeadline<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new Error(
            `Timed out after ${timeoutMs} ms waiting for ${what}\nstdout:\n${
              stdoutLines.join("\n")
            }\nstderr:\n${stderrLines.join("\n")}`,
          ),
        );
      }, timeoutMs);
    });
    return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
  }

  return {
    child,
    stdoutLines,
    stderrLines,
    waitForLine(pattern, timeoutMs = 10_000) {
      const seen = [...stdoutLines, ...stderrLines].find((line) => pattern.test(line));
      if (seen !== undefined) return Promise.resolve(seen);
      const { promise, resolve } = Promise.withResolvers<string>();
      const waiter = { pattern, resolve };
      waiters.add(waiter);
      return withDeadline(promise, timeoutMs, `a line matching ${pattern}`).finally(() =>
        waiters.delete(waiter)
      );
    },
    async waitForExit(timeoutMs = 10_000) {
      const result = await withDeadline(status, timeoutMs, "the process to exit");
      await pumps;
      return result;
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await status;
      await pumps;
    },
  };
}

/**
 * Runs `main.ts` with each argument list at once and asserts the CLI's answer to misuse: exit 2,
 * nothing on stdout, and exactly one line on stderr matching the case's pattern.
 */
export async function assertUsageErrors(
  cases: readonly (readonly [readonly string[], RegExp])[],
  timeoutMs = 30_000,
): Promise<void> {
  const results = await Promise.all(cases.map(async ([args]) => {
    await using proc = spawnPoolgate(args);
    const status = await proc.waitForExit(timeoutMs);
    return { status, stdout: proc.stdoutLines, stderr: proc.stderrLines };
  }));
  for (const [i, [args, expected]] of cases.entries()) {
    const { status, stdout, stderr } = results[i]!;
    assert.equal(status.code, 2, args.join(" "));
    assert.equal(stderr.length, 1, `one line for ${args.join(" ")}: ${stderr.join("\n")}`);
    assert.match(stderr[0] ?? "", expected);
    assert.deepEqual(stdout, []);
  }
}
