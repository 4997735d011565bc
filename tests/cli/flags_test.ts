import assert from "node:assert/strict";
import {
  envName,
  formatHelp,
  option,
  optionalOption,
  parseFlags,
  repeatable,
  toggle,
  UsageError,
} from "../../cli/flags.ts";
import { parseDuration, parseHostPort } from "../../cli/values.ts";

const FLAGS = {
  asap: option((t) => parseHostPort(t), {
    description: "ASAP address",
    valueName: "HOST:PORT",
    default: "127.0.0.1:3863",
  }),
  "keep-alive-timeout": option(parseDuration, {
    description: "Keep-alive timeout",
    valueName: "DURATION",
    default: "1s",
  }),
  peer: repeatable((t) => parseHostPort(t), { description: "Peers", valueName: "HOST:PORT" }),
  id: optionalOption(Number, { description: "Server ID", valueName: "N" }),
  verbose: toggle("Say more"),
};

function sources(
  args: string[],
  env: Record<string, string> = {},
  files: Record<string, string> = {},
) {
  return {
    args,
    env: (name: string) => env[name],
    readFile: (path: string) => {
      const text = files[path];
      if (text === undefined) throw new Deno.errors.NotFound(`No such file: ${path}`);
      return text;
    },
  };
}

Deno.test("parseFlags() uses the defaults when no source gives a value", () => {
  const { values } = parseFlags(FLAGS, sources([]));
  assert.deepEqual(values.asap, { hostname: "127.0.0.1", port: 3863 });
  assert.equal(values["keep-alive-timeout"], 1000);
  assert.deepEqual(values.peer, []);
  assert.equal(values.id, undefined);
  assert.equal(values.verbose, false);
});

Deno.test("parseFlags() takes flag over environment over file over default", () => {
  const file = JSON.stringify({ asap: "10.0.0.1:1", "keep-alive-timeout": "3s", id: 7 });
  const files = { "/c.json": file };
  const env = { POOLGATE_ASAP: "10.0.0.2:2", POOLGATE_CONFIG: "/c.json" };

  const fromFile = parseFlags(FLAGS, sources([], { POOLGATE_CONFIG: "/c.json" }, files)).values;
  assert.deepEqual(fromFile.asap, { hostname: "10.0.0.1", port: 1 });
  assert.equal(fromFile["keep-alive-timeout"], 3000);
  assert.equal(fromFile.id, 7);

  const fromEnv = parseFlags(FLAGS, sources([], env, files)).values;
  assert.deepEqual(fromEnv.asap, { hostname: "10.0.0.2", port: 2 });
  assert.equal(fromEnv["keep-alive-timeout"], 3000, "the file still fills what env lacks");

  const fromFlag = parseFlags(FLAGS, sources(["--asap", "[::1]:3"], env, files)).values;
  assert.deepEqual(fromFlag.asap, { hostname: "::1", port: 3 });
});

Deno.test("parseFlags() takes a repeatable flag wholesale from the highest source", () => {
  const files = { "/c.json": JSON.stringify({ peer: ["h:1", "h:2"] }) };
  const env = { POOLGATE_PEER: "e:1  e:2\ne:3" };
  const file = parseFlags(FLAGS, sources(["--config", "/c.json"], {}, files)).values.peer;
  assert.deepEqual(file.map((p) => p.hostname), ["h", "h"]);
  const envList = parseFlags(FLAGS, sources(["--config", "/c.json"], env, files)).values.peer;
  assert.deepEqual(envList.map((p) => p.hostname), ["e", "e", "e"]);
  const flags = parseFlags(FLAGS, sources(["--peer", "f:1", "--peer", "g:2"], env)).values.peer;
  assert.deepEqual(flags.map((p) => p.hostname), ["f", "g"]);
});

Deno.test("parseFlags() reads toggles from flags, environment and file", () => {
  assert.equal(parseFlags(FLAGS, sources(["--verbose"])).values.verbose, true);
  assert.equal(parseFlags(FLAGS, sources([], { POOLGATE_VERBOSE: "yes" })).values.verbose, true);
  const files = { "/c.json": JSON.stringify({ verbose: true }) };
  assert.equal(parseFlags(FLAGS, sources(["--config", "/c.json"], {}, files)).values.verbose, true);
});

Deno.test("parseFlags() names the flag and the problem for a bad value from any source", () => {
  assert.throws(
    () => parseFlags(FLAGS, sources(["--keep-alive-timeout", "5"])),
    { name: "UsageError", message: /--keep-alive-timeout: "5": expected a duration/ },
  );
  assert.throws(
    () => parseFlags(FLAGS, sources([], { POOLGATE_ASAP: "nohost" })),
    { name: "UsageError", message: /--asap: "nohost": expected HOST:PORT/ },
  );
  assert.throws(
    () => parseFlags(FLAGS, sources(["--asap", "::1:80"])),
    { name: "UsageError", message: /IPv6 address must be written in brackets/ },
  );
});

Deno.test("parseFlags() rejects unknown flags and config keys in one line", () => {
  assert.throws(() => parseFlags(FLAGS, sources(["--nope"])), (error: unknown) => {
    assert.ok(error instanceof UsageError);
    assert.match(error.message, /^Unknown option '--nope'; see --help$/);
    return true;
  });
  const files = { "/c.json": JSON.stringify({ asap: "h:1", nope: 1 }) };
  assert.throws(() => parseFlags(FLAGS, sources(["--config", "/c.json"], {}, files)), {
    message: 'Invalid config file /c.json: unknown key "nope"',
  });
  const wrongType = { "/c.json": JSON.stringify({ peer: { a: 1 } }) };
  assert.throws(() => parseFlags(FLAGS, sources(["--config", "/c.json"], {}, wrongType)), {
    message: /^Invalid config file \/c.json: key "peer": /,
  });
  const notJson = { "/c.json": "{" };
  assert.throws(() => parseFlags(FLAGS, sources(["--config", "/c.json"], {}, notJson)), {
    message: /^Cannot parse config file \/c.json as JSON/,
  });
  assert.throws(() => parseFlags(FLAGS, sources(["--config", "/missing.json"])), {
    message: /^Cannot read config file \/missing.json/,
  });
});

Deno.test("formatHelp() lists every flag with its default and environment variable", () => {
  const help = formatHelp("main.ts x", "Does x", FLAGS);
  assert.match(
    help,
    /--asap HOST:PORT +ASAP address \(default: 127.0.0.1:3863; env: POOLGATE_ASAP\)/,
  );
  assert.match(help, /--peer HOST:PORT +Peers \(repeatable; env: POOLGATE_PEER\)/);
  assert.match(help, /--config FILE/);
  assert.equal(envName("keep-alive-timeout"), "POOLGATE_KEEP_ALIVE_TIMEOUT");
});
