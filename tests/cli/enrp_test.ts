/**
 * ENRP between real `main.ts registrar` and `main.ts serve` processes on 127.0.0.1: a set of
 * three replicates every change, a SIGKILLed registrar's PEs are taken over by exactly one
 * survivor without ever leaving a survivor's handlespace, a restarted registrar rejoins through
 * a mentor, and a proxy session to a PE registered at a registrar that dies goes on.
 *
 * Registrars run in other processes, so the tests sample their handlespaces with the `hsdump`
 * download (`fetchHandleTable`) in bounded loops: sampling is the observation itself here.
 */
import assert from "node:assert/strict";
import { type PoolElementRegistration, registerPoolElement } from "../../lib/asap/mod.ts";
import { fetchHandleTable, type HandleTable } from "../../lib/registrar/mod.ts";
import { AsapMessageType } from "../../lib/wire/mod.ts";
import { nextEvent, withDeadline } from "../_support/deadline.ts";
import { type PoolgateProcess, spawnPoolgate } from "../_support/poolgate_process.ts";
import { connectAsap, resolution } from "../lib/registrar/_asap_client.ts";

/** Timers for processes sharing two cores with other tests: fast, with some slack. */
const TIMERS = [
  "--heartbeat-cycle",
  "100ms",
  "--max-time-last-heard",
  "500ms",
  "--max-time-no-response",
  "300ms",
  "--takeover-expiry",
  "500ms",
];
const ASAP_LISTENING = /Registrar .*listening on "?127\.0\.0\.1:(\d+)/;
const ENRP_LISTENING = /ENRP server .*listening on "?127\.0\.0\.1:(\d+)/;

/** A registrar process with its ports; disposal kills it. */
interface Instance extends AsyncDisposable {
  readonly process: PoolgateProcess;
  readonly serverId: number;
  readonly asapPort: number;
  readonly enrpPort: number;
}

async function start(command: "registrar" | "serve", serverId: number, args: string[] = []) {
  const process = spawnPoolgate([
    command,
    "--asap",
    "127.0.0.1:0",
    "--enrp",
    "127.0.0.1:0",
    "--id",
    String(serverId),
    "--log-format",
    "text",
    ...TIMERS,
    ...args,
  ]);
  try {
    const asap = await process.waitForLine(ASAP_LISTENING, 20_000);
    const enrp = await process.waitForLine(ENRP_LISTENING, 20_000);
    const instance: Instance = {
      process,
      serverId,
      asapPort: Number(ASAP_LISTENING.exec(asap)?.[1]),
      enrpPort: Number(ENRP_LISTENING.exec(enrp)?.[1]),
      [Symbol.asyncDispose]: () => process[Symbol.asyncDispose](),
    };
    return instance;
  } catch (error) {
    await process[Symbol.asyncDispose]();
    throw error;
  }
}

function hex(id: number): string {
  return `0x${id.toString(16).padStart(8, "0")}`;
}

/** "pool/peId@home" for every PE of a downloaded table. */
function entries(table: HandleTable): string[] {
  const decoder = new TextDecoder();
  return table.pools.flatMap((pool) =>
    pool.poolElements.map((pe) =>
      `${decoder.decode(pool.poolHandle)}/${pe.identifier}@${pe.homeRegistrarId}`
    )
  ).sort();
}

function dump(instance: Instance): Promise<HandleTable> {
  return fetchHandleTable({ hostname: "127.0.0.1", port: instance.enrpPort }, { timeoutMs: 2000 });
}

/**
 * Samples the tables of `instances` until `done(tables)` holds, running `each(tables)` on
 * every sample; rejects after `ms`. Samples are 20 ms apart.
 */
async function sample(
  instances: readonly Instance[],
  done: (tables: HandleTable[]) => boolean,
  ms: number,
  what: string,
  each: (tables: HandleTable[]) => void = () => {},
): Promise<HandleTable[]> {
  const deadline = performance.now() + ms;
  for (;;) {
    const tables = await Promise.all(instances.map(dump));
    each(tables);
    if (done(tables)) return tables;
    if (performance.now() > deadline) {
      throw new Error(
        `Timed out after ${ms} ms waiting for ${what}: ${JSON.stringify(tables.map(entries))}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** True when every table lists the same PEs with the same homes (so their checksums agree). */
function agree(tables: HandleTable[], count: number): boolean {
  const first = entries(tables[0]!).join();
  return tables.every((t) => entries(t).length === count && entries(t).join() === first);
}

/** Registers a PE through the PE library, preferring `home`, and waits for it to be accepted. */
async function registerAt(
  home: Instance,
  others: readonly Instance[],
  pool: string,
  peId: number,
): Promise<PoolElementRegistration> {
  const pe = registerPoolElement({
    registrars: [home, ...others].map((i) => ({ hostname: "127.0.0.1", port: i.asapPort })),
    poolHandle: pool,
    poolElementId: peId,
    transport: { port: 20_000 + (peId % 10_000), address: "127.0.0.1" },
    registrationLifeMs: 60_000,
    serverHuntMs: 200,
  });
  await nextEvent(pe, "registered", 5000);
  return pe;
}

async function resolves(instance: Instance, pool: string): Promise<boolean> {
  await using client = await connectAsap(instance.asapPort);
  const answer = await client.request(resolution(pool));
  return answer.type === AsapMessageType.handleResolutionResponse &&
    answer.poolElements.length > 0;
}

Deno.test("main.ts registrar --enrp: three registrars replicate, a SIGKILLed one is taken over by exactly one survivor with no PE ever missing, and it rejoins through a mentor", async (t) => {
  await using a = await start("registrar", 0x1);
  await using b = await start("registrar", 0x2, ["--peer", `127.0.0.1:${a.enrpPort}`]);
  await using c = await start("registrar", 0x3, ["--peer", `127.0.0.1:${a.enrpPort}`]);
  const all = [a, b, c];
  await b.process.waitForLine(/Downloaded the handlespace from mentor/, 10_000);
  await c.process.waitForLine(/Downloaded the handlespace from mentor/, 10_000);
  const pes: PoolElementRegistration[] = [];
  // Two PEs that know no registrar but B: they never re-home, only a takeover gives them one.
  const stranded: PoolElementRegistration[] = [];
  try {
    await t.step(
      "every registrar resolves every pool and the tables agree after each change",
      async () => {
        let count = 0;
        for (const [home, pool] of [[a, "PoolA"], [b, "PoolB"], [c, "PoolC"]] as const) {
          for (const peId of [1, 2]) {
            const id = home.serverId * 100 + peId;
            pes.push(await registerAt(home, all.filter((i) => i !== home), pool, id));
            count++;
            await sample(all, (tables) => agree(tables, count), 3000, `PE ${id} everywhere`);
          }
        }
        for (const peId of [901, 902]) {
          stranded.push(await registerAt(b, [], "Stranded", peId));
          count++;
          await sample(all, (tables) => agree(tables, count), 3000, `PE ${peId} everywhere`);
        }
        for (const instance of all) {
          for (const pool of ["PoolA", "PoolB", "PoolC", "Stranded"]) {
            assert.ok(await resolves(instance, pool), `${hex(instance.serverId)} resolves ${pool}`);
          }
        }
        // A deregistration travels too.
        await pes.pop()!.close();
        await sample(all, (tables) => agree(tables, 7), 3000, "the deregistration everywhere");
        // What an operator sees: `hsdump` as text and as JSON.
        await using text = spawnPoolgate(["hsdump", `127.0.0.1:${c.enrpPort}`]);
        assert.equal((await text.waitForExit(20_000)).code, 0);
        assert.match(
          text.stdoutLines[0] ?? "",
          /^Registrar 0x00000003 at 127\.0\.0\.1:\d+: 4 pools, 7 PEs$/,
        );
        assert.ok(text.stdoutLines.some((line) => /^pool "Stranded"$/.test(line)));
        assert.ok(
          text.stdoutLines.some((line) =>
            /^ {2}0x00000385 {2}home 0x00000002 {2}TCP 127\.0\.0\.1:/.test(line)
          ),
        );
        await using json = spawnPoolgate(["hsdump", `127.0.0.1:${a.enrpPort}`, "--json", "--own"]);
        assert.equal((await json.waitForExit(20_000)).code, 0);
        const own = JSON.parse(json.stdoutLines.join("\n"));
        assert.equal(own.serverId, "0x00000001");
        assert.deepEqual(
          own.pools.map((pool: { poolHandle: string }) => pool.poolHandle),
          ["PoolA"],
        );
      },
    );

    await t.step("SIGKILL: one survivor takes over B's PEs and no PE is ever missing", async () => {
      const expected = new Set(entries(await dump(a)).map((entry) => entry.split("@")[0]));
      assert.equal(expected.size, 7);
      const rehomed = pes.filter((pe) => pe.homeRegistrar === `127.0.0.1:${b.asapPort}`).map(
        (pe) => nextEvent(pe, "rehomed", 5000),
      );
      let samples = 0;
      b.process.child.kill("SIGKILL");
      const survivors = [a, c];
      await sample(
        survivors,
        (tables) =>
          tables.every((table) =>
            entries(table).every((entry) => !entry.endsWith(`@${b.serverId}`))
          ),
        5000,
        "no PE homed at B on either survivor",
        (tables) => {
          samples++;
          for (const table of tables) {
            const present = new Set(entries(table).map((entry) => entry.split("@")[0]));
            for (const pe of expected) {
              assert.ok(present.has(pe), `${pe} missing at ${hex(table.serverId)}`);
            }
          }
        },
      );
      await Promise.all(rehomed);
      const tables = await sample(survivors, (t) => agree(t, 7), 3000, "the survivors to agree");
      const took = /Took over (\d+) PEs of registrar "?0x00000002/;
      const winners = survivors.filter((s) =>
        [...s.process.stderrLines, ...s.process.stdoutLines].some((line) => took.test(line))
      );
      assert.equal(winners.length, 1, "exactly one survivor took B over");
      const winner = winners[0]!;
      for (const peId of [901, 902]) {
        assert.ok(entries(tables[0]!).includes(`Stranded/${peId}@${winner.serverId}`));
      }
      assert.ok(samples >= 2);
      assert.ok(await resolves(c, "Stranded"), "the taken-over PEs are still selected");
    });

    await t.step("a registrar that restarts rejoins through a mentor and converges", async () => {
      await using again = await start("registrar", 0x2, ["--peer", `127.0.0.1:${c.enrpPort}`]);
      await again.process.waitForLine(
        /Downloaded the handlespace from mentor "?0x00000003/,
        10_000,
      );
      await sample([a, again, c], (tables) => agree(tables, 7), 3000, "the rejoined one to agree");
      await a.process.waitForLine(
        /Registrar "?0x00000002"? is back|Peer registrar "?0x00000002"? is up/,
        5000,
      );
      const peId = 0x2 * 100 + 7;
      pes.push(await registerAt(again, [a, c], "PoolB", peId));
      await sample([a, again, c], (tables) => agree(tables, 8), 3000, "its new PE everywhere");
    });
  } finally {
    await Promise.all([...pes, ...stranded].map((pe) => pe.close()));
  }
});

Deno.test("main.ts serve --enrp: a session through instance A to a PE registered at B survives B's death", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const echoes = (async () => {
    for await (const conn of listener) {
      void (async () => {
        const buffer = new Uint8Array(1024);
        try {
          for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
            await conn.write(buffer.subarray(0, n));
          }
        } catch {
          // The proxy went away.
        } finally {
          conn.close();
        }
      })();
    }
  })();
  await using a = await start("serve", 0xa, ["--listen", "127.0.0.1:0=Echo"]);
  const proxyLine = await a.process.waitForLine(/Proxy listening on "?127\.0\.0\.1:(\d+)/, 10_000);
  const proxyPort = Number(/127\.0\.0\.1:(\d+)/.exec(proxyLine)?.[1]);
  await using b = await start("registrar", 0xb, ["--peer", `127.0.0.1:${a.enrpPort}`]);
  await b.process.waitForLine(/Downloaded the handlespace from mentor/, 10_000);
  await using pe = registerPoolElement({
    registrars: [b, a].map((i) => ({ hostname: "127.0.0.1", port: i.asapPort })),
    poolHandle: "Echo",
    transport: { port: listener.addr.port, address: "127.0.0.1" },
    registrationLifeMs: 60_000,
    serverHuntMs: 200,
  });
  await nextEvent(pe, "registered", 5000);
  await sample([a], (tables) => entries(tables[0]!).length === 1, 3000, "the PE at A");
  using client = await Deno.connect({ hostname: "127.0.0.1", port: proxyPort });
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const roundTrip = async (text: string) => {
    await client.write(encoder.encode(text));
    let echoed = "";
    const buffer = new Uint8Array(1024);
    while (echoed.length < text.length) {
      const n = await withDeadline(client.read(buffer), 5000, `the echo of ${text}`);
      if (n === null) throw new Error(`the session closed after ${JSON.stringify(echoed)}`);
      echoed += decoder.decode(buffer.subarray(0, n));
    }
    assert.equal(echoed, text);
  };
  await roundTrip("before");
  const rehomed = nextEvent(pe, "rehomed", 5000);
  b.process.child.kill("SIGKILL");
  await rehomed;
  assert.equal(pe.homeRegistrar, `127.0.0.1:${a.asapPort}`);
  await sample(
    [a],
    (tables) => entries(tables[0]!)[0]?.endsWith(`@${a.serverId}`) === true,
    3000,
    "the PE homed at A",
    (tables) => assert.equal(entries(tables[0]!).length, 1, "the PE never left A"),
  );
  await roundTrip("after");
  assert.equal(
    a.process.stderrLines.some((line) => /lost pool element|failover/i.test(line)),
    false,
    "the session was never moved",
  );
  client.close();
  listener.close();
  await echoes;
});
