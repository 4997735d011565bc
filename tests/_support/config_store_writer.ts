/**
 * A child process for the config store tests: opens the store in `--data-dir`, prints `ready`,
 * waits for a line on stdin when `--wait-go` is given, then writes `--count` records in a loop,
 * cycling static member, pool settings and listener, and prints `written KIND KEY` as soon as
 * each put has returned (member keys are `PREFIX/PEID`). Prints `done` at the end.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { openConfigStore } from "../../proxy/config_store.ts";
import { sampleListener, sampleMember, samplePoolSettings } from "./config_store_fixtures.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "data-dir": { type: "string" },
    prefix: { type: "string", default: "w" },
    count: { type: "string", default: "1" },
    "wait-go": { type: "boolean", default: false },
  },
});

const encoder = new TextEncoder();

/** Writes all of `line` to stdout before returning, so the parent sees it even if killed next. */
function say(line: string): void {
  const bytes = encoder.encode(`${line}\n`);
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

async function waitForGo(): Promise<void> {
  const reader = Deno.stdin.readable.getReader();
  try {
    const decoder = new TextDecoder();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) return;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel();
  }
}

const dataDir = values["data-dir"];
if (dataDir === undefined) throw new TypeError("Cannot write records: --data-dir is missing");
const prefix = values.prefix;
const count = Number(values.count);

using store = openConfigStore({ dataDir, busyTimeoutMs: 20_000 });
say("ready");
if (values["wait-go"]) await waitForGo();
for (let index = 1; index <= count; index++) {
  switch (index % 3) {
    case 1:
      store.putMember(sampleMember(prefix, index));
      say(`written member ${prefix}/${index}`);
      break;
    case 2:
      store.putPoolSettings(samplePoolSettings(`${prefix}-${index}`));
      say(`written pool-settings ${prefix}-${index}`);
      break;
    default:
      store.putListener(sampleListener(`${prefix}-${index}`, prefix, 1 + (index % 65535)));
      say(`written listener ${prefix}-${index}`);
  }
}
say("done");
