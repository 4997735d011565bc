import assert from "node:assert/strict";
import { spawnPoolgate } from "../_support/poolgate_process.ts";

async function run(args: string[], env: Record<string, string> = {}) {
  await using proc = spawnPoolgate(args, { env });
  const status = await proc.waitForExit(30_000);
  return { code: status.code, stdout: proc.stdoutLines, stderr: proc.stderrLines };
}

Deno.test("main.ts --help lists the commands and exits 0", async () => {
  const { code, stdout } = await run(["--help"]);
  assert.equal(code, 0);
  assert.ok(stdout.some((line) => /^ {2}serve +Run the proxy/.test(line)), stdout.join("\n"));
});

Deno.test("main.ts serve --help lists each flag with its default", async () => {
  const { code, stdout } = await run(["serve", "--help"]);
  assert.equal(code, 0);
  assert.ok(stdout.some((l) => /--log-level .*default: info/.test(l)), stdout.join("\n"));
});

Deno.test("main.ts answers misuse with one line on stderr and exit 2", async () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [["frobnicate"], {}, /^Unknown command "frobnicate"/],
    [["serve", "--frobnicate"], {}, /^Unknown option '--frobnicate'/],
    [["serve", "--log-level", "loud"], {}, /^Invalid value for --log-level: "loud"/],
    [["serve"], { POOLGATE_SHUTDOWN_GRACE: "soon" }, /^Invalid value for --shutdown-grace/],
    [["serve", "extra"], {}, /^Unexpected argument "extra"/],
  ];
  for (const [args, env, expected] of cases) {
    const { code, stderr } = await run(args, env);
    assert.equal(code, 2, args.join(" "));
    assert.equal(stderr.length, 1, `one line for ${args.join(" ")}: ${stderr.join("\n")}`);
    assert.match(stderr[0] ?? "", expected);
  }
});

Deno.test("main.ts serve without listeners says how to add one, and stops on SIGTERM", async () => {
  await using proc = spawnPoolgate(["serve", "--asap", "127.0.0.1:0", "--log-format", "json"]);
  const started = await proc.waitForLine(
    /No front listener configured: add one with --listen/,
    20_000,
  );
  assert.doesNotThrow(() => JSON.parse(started), "log lines are JSON");
  proc.child.kill("SIGTERM");
  const status = await proc.waitForExit(15_000);
  assert.equal(status.code, 0, proc.stderrLines.join("\n"));
  assert.ok(proc.stderrLines.some((line) => JSON.parse(line).message === "Stopped"));
});
