import assert from "node:assert/strict";
import { spawnPoolgate } from "../_support/poolgate_process.ts";

async function decode(args: string[]) {
  await using proc = spawnPoolgate(["decode", ...args]);
  const status = await proc.waitForExit(30_000);
  return { code: status.code, stdout: proc.stdoutLines.join("\n"), stderr: proc.stderrLines };
}

Deno.test("main.ts decode prints an ASAP message as JSON", async () => {
  const { code, stdout } = await decode(["05000014 00090008 506f6f6c 803f0008 ffffffff"]);
  assert.equal(code, 0);
  const json = JSON.parse(stdout);
  assert.equal(json.message, "ASAP_HANDLE_RESOLUTION");
  assert.equal(json.poolHandle, "Pool");
  assert.equal(json.items, 0xffffffff);
});

Deno.test("main.ts decode --protocol enrp reads ENRP", async () => {
  const presence =
    "0101002c 00000011 00000000 000f0006 beef0000 000b0018 00000011 00040010 26ad0000 00010008 7f000001";
  const { code, stdout } = await decode(["--protocol", "enrp", presence]);
  assert.equal(code, 0, stdout);
  const json = JSON.parse(stdout);
  assert.equal(json.message, "ENRP_PRESENCE");
  assert.equal(json.senderServerId, "0x00000011");
});

Deno.test("main.ts decode answers a malformed message with cause and offset in one line, exit 1", async () => {
  const { code, stdout, stderr } = await decode(["0500001400090008506f6f6c803f00"]);
  assert.equal(code, 1);
  assert.equal(stdout, "");
  assert.equal(stderr.length, 1, stderr.join("\n"));
  assert.match(stderr[0] ?? "", /at offset 2: .*\(cause 0x3 Invalid Values\)$/);
});

Deno.test("main.ts decode refuses text that is not hex with exit 2", async () => {
  const { code, stderr } = await decode(["05zz"]);
  assert.equal(code, 2);
  assert.match(stderr[0] ?? "", /hex digits/);
});
