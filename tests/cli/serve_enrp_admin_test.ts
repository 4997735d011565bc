import assert from "node:assert/strict";
import { spawnPoolgate } from "../_support/poolgate_process.ts";
import { startServe } from "./_serve_admin.ts";

Deno.test("main.ts serve with a peer shows it in GET /v1/registrar and is ready once synchronised", async () => {
  await using peer = spawnPoolgate([
    "registrar",
    "--asap",
    "127.0.0.1:0",
    "--enrp",
    "127.0.0.1:0",
    "--log-format",
    "json",
  ]);
  const enrpLine = JSON.parse(await peer.waitForLine(/ENRP server .* listening on/, 20_000));
  const peerAddress = String(enrpLine.properties.address);
  const peerId = parseInt(String(enrpLine.properties.serverId), 16);

  await using serve = await startServe(["--enrp", "127.0.0.1:0", "--peer", peerAddress]);
  await serve.proc.waitForLine(/Peer registrar .* is up at/, 20_000);
  // The download from the mentor ends with this line; synchronisation follows synchronously.
  await serve.proc.waitForLine(/Downloaded the handlespace from mentor/, 20_000);

  const status = await serve.request("GET", "/v1/registrar");
  assert.equal(status.status, 200);
  const body = status.body as { peers: { serverId: number; address: string; state: string }[] };
  assert.deepEqual(body.peers.map((p) => [p.serverId, p.state]), [[peerId, "up"]]);
  assert.equal(body.peers[0]?.address, peerAddress);

  const ready = await serve.request("GET", "/readyz");
  assert.equal(ready.status, 200, JSON.stringify(ready.body));
  const metrics = await serve.metrics();
  const presence = [...metrics].find(([name]) =>
    name.startsWith("poolgate_enrp_messages_total") && name.includes("ENRP_PRESENCE")
  );
  assert.ok(presence !== undefined && presence[1] > 0, "ENRP messages are counted");
});
