/**
 * `main.ts registrar` and `main.ts resolve` as real processes: flags and defaults, the logged
 * address with port 0, resolution printed as JSON, one-line failures, SIGTERM, and a live
 * tshark capture of every message type the registrar sends.
 */
import assert from "node:assert/strict";
import {
  type AsapMessage,
  AsapMessageType,
  ErrorCauseCode,
  PolicyType,
} from "../../lib/wire/mod.ts";
import { withDeadline } from "../_support/deadline.ts";
import { needsPrograms } from "../_support/external_program.ts";
import { type PoolgateProcess, spawnPoolgate } from "../_support/poolgate_process.ts";
import {
  type AsapClient,
  connectAsap,
  expectType,
  handle,
  poolElement,
  registration,
  resolution,
} from "../lib/registrar/_asap_client.ts";

const LISTENING = /Registrar .* listening on "?127\.0\.0\.1:(\d+)/;

/** A `main.ts registrar` child and the port it logged; disposal kills it. */
interface RegistrarProcess extends AsyncDisposable {
  readonly process: PoolgateProcess;
  readonly port: number;
}

async function startRegistrarProcess(flags: string[] = []): Promise<RegistrarProcess> {
  const process = spawnPoolgate([
    "registrar",
    "--asap",
    "127.0.0.1:0",
    "--log-format",
    "text",
    ...flags,
  ]);
  try {
    const line = await process.waitForLine(LISTENING, 20_000);
    return {
      process,
      port: Number(LISTENING.exec(line)?.[1]),
      [Symbol.asyncDispose]: () => process[Symbol.asyncDispose](),
    };
  } catch (error) {
    await process[Symbol.asyncDispose]();
    throw error;
  }
}

async function run(args: string[]) {
  await using proc = spawnPoolgate(args);
  const status = await proc.waitForExit(20_000);
  return { code: status.code, stdout: proc.stdoutLines, stderr: proc.stderrLines };
}

Deno.test("main.ts registrar --help lists each timer and bound with its default", async () => {
  const { code, stdout } = await run(["registrar", "--help"]);
  assert.equal(code, 0);
  const text = stdout.join("\n");
  for (
    const expected of [
      /--asap HOST:PORT .*default: 127\.0\.0\.1:3863/,
      /--keep-alive-interval .*default: 500ms/,
      /--keep-alive-timeout .*default: 1s/,
      /--max-bad-pe-reports .*default: 3/,
      /--handle-resolution-items .*default: 3/,
      /--max-connections .*default: 1000/,
      /--max-pool-elements .*default: 1000000/,
      /--id ID/,
      /--log-level/,
      /--shutdown-grace/,
    ]
  ) {
    assert.match(text, expected);
  }
});

Deno.test("main.ts registrar serves on its logged port, resolve prints JSON, SIGTERM stops it", async () => {
  await using registrar = await startRegistrarProcess(["--id", "0x00c0ffee"]);
  const { process, port } = registrar;
  await using pe = await connectAsap(port);
  for (const id of [1, 2, 3]) {
    const policy = { type: PolicyType.weightedRandom, weight: id } as const;
    await pe.request(registration("EchoPool", poolElement(id, { policy })));
  }

  const two = await run([
    "resolve",
    "EchoPool",
    "--registrar",
    `127.0.0.1:${port}`,
    "--items",
    "2",
  ]);
  assert.equal(two.code, 0, two.stderr.join("\n"));
  const answer = JSON.parse(two.stdout.join("\n"));
  assert.equal(answer.message, "ASAP_HANDLE_RESOLUTION_RESPONSE");
  assert.equal(answer.poolHandle, "EchoPool");
  assert.equal(answer.policy.name, "WRAND");
  assert.equal(answer.poolElements.length, 2);
  assert.equal(answer.poolElements[0].homeRegistrarId, "0x00c0ffee");
  assert.equal(answer.poolElements[0].userTransport.protocol, "TCP");

  const all = await run(["resolve", "EchoPool", "--registrar", `127.0.0.1:${port}`]);
  assert.equal(JSON.parse(all.stdout.join("\n")).poolElements.length, 3);

  const unknown = await run(["resolve", "Nobody", "--registrar", `127.0.0.1:${port}`]);
  assert.equal(unknown.code, 1);
  assert.deepEqual(unknown.stderr, [`Unknown pool handle "Nobody" at registrar 127.0.0.1:${port}`]);
  assert.deepEqual(unknown.stdout, []);

  process.child.kill("SIGTERM");
  const status = await process.waitForExit(10_000);
  assert.equal(status.code, 0, process.stderrLines.join("\n"));
  assert.ok(process.stderrLines.some((line) => /Stopped/.test(line)));
});

Deno.test("main.ts resolve and registrar fail in one line: unreachable, bad flag, the one port taken named with its role", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const inUse = (role: string) =>
    new RegExp(
      `^Cannot listen on 127\\.0\\.0\\.1:${taken.addr.port} \\(${role}\\): Address already in use`,
    );
  const closedPort = (() => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    return listener.addr.port;
  })();
  const cases: [string[], number, RegExp][] = [
    [
      ["resolve", "EchoPool", "--registrar", `127.0.0.1:${closedPort}`, "--timeout", "1s"],
      1,
      new RegExp(`^Cannot reach registrar at 127\\.0\\.0\\.1:${closedPort}: `),
    ],
    [["registrar", "--keep-alive-interval", "50ms"], 2, /^Invalid value for --keep-alive-interval/],
    [["registrar", "--id", "0"], 2, /^Invalid value for --id/],
    [
      ["registrar", "--asap", `127.0.0.1:${taken.addr.port}`, "--log-level", "error"],
      1,
      inUse("ASAP"),
    ],
    [
      [
        "registrar",
        "--asap",
        "127.0.0.1:0",
        "--enrp",
        `127.0.0.1:${taken.addr.port}`,
        "--log-level",
        "error",
      ],
      1,
      inUse("ENRP"),
    ],
  ];
  for (const [args, expectedCode, expected] of cases) {
    const { code, stderr } = await run(args);
    assert.equal(code, expectedCode, args.join(" "));
    assert.equal(stderr.length, 1, `one line for ${args.join(" ")}: ${stderr.join("\n")}`);
    assert.match(stderr[0] ?? "", expected);
  }
});

/** Lines of a child's output stream, each awaitable as it arrives. */
function lineReader(stream: ReadableStream<Uint8Array>) {
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const done = (async () => {
    let rest = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + text).split("\n");
      rest = parts.pop() ?? "";
      lines.push(...parts);
      for (const wake of waiters) wake();
    }
  })();
  return {
    lines,
    done,
    /** Resolves once `predicate` holds for the lines so far; rejects after `ms`. */
    until(predicate: (lines: readonly string[]) => boolean, ms: number, what: string) {
      let wake: (() => void) | undefined;
      const reached = new Promise<void>((resolve) => {
        wake = () => {
          if (predicate(lines)) resolve();
        };
        waiters.add(wake);
        wake();
      });
      return withDeadline(reached, ms, what).finally(() => {
        if (wake !== undefined) waiters.delete(wake);
      });
    },
  };
}

/**
 * A tshark live capture on lo that writes `file` and also prints, per packet, the source port
 * and the ASAP message type (`-P -l`), so the test can tell when packets have reached it:
 * libpcap hands packets over in blocks, and those still in the kernel when tshark stops are lost.
 */
function startCapture(port: number, file: string) {
  const child = new Deno.Command("tshark", {
    args: [
      ...["-i", "lo", "-f", `tcp port ${port}`, "-w", file, "-P", "-l"],
      ...["-d", `tcp.port==${port},asap`, "-T", "fields", "-e", "tcp.srcport"],
      ...["-e", "asap.message_type"],
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = lineReader(child.stdout);
  const stderr = lineReader(child.stderr);
  /** Messages of `type` from the registrar that tshark has seen so far. */
  const seenOf = (type: number) =>
    stdout.lines.filter((line) => line === `${port}\t${type}`).length;
  return {
    started: () =>
      stderr.until((lines) => lines.some((l) => l.includes("Capturing on")), 15_000, "tshark"),
    /** Resolves once tshark has seen `count` messages of `type` from the registrar. */
    seen: (type: number, count: number, ms = 10_000) =>
      stdout.until(() => seenOf(type) >= count, ms, `tshark to see ${count} of type ${type}`),
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGINT");
      } catch {
        // Exited already.
      }
      const status = await child.status;
      await Promise.all([stdout.done, stderr.done]);
      assert.ok(status.success, stderr.lines.join("\n"));
    },
  };
}

async function tshark(args: string[]): Promise<string[]> {
  const { code, stdout, stderr } = await new Deno.Command("tshark", { args }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return new TextDecoder().decode(stdout).split("\n").filter((line) => line !== "");
}

/** Receives until a message of `type` arrives, answering Keep-Alives on the way. */
async function until<T extends AsapMessage["type"]>(
  client: AsapClient,
  type: T,
): Promise<Extract<AsapMessage, { type: T }>> {
  for (;;) {
    const message = await client.receive(3000);
    if (message.type === type) return expectType(message, type);
    if (message.type === AsapMessageType.endpointKeepAlive) {
      await client.send({
        type: AsapMessageType.endpointKeepAliveAck,
        poolHandle: message.poolHandle,
        poolElementId: message.poolElementId ?? 0,
      });
    }
  }
}

Deno.test({
  name: "main.ts registrar sends what tshark decodes as ASAP without a malformed mark",
  ...needsPrograms("tshark"),
  async fn() {
    await using registrar = await startRegistrarProcess([
      "--keep-alive-interval",
      "300ms",
      "--keep-alive-timeout",
      "2s",
    ]);
    const { port } = registrar;
    const dir = await Deno.makeTempDir({ prefix: "poolgate_registrar_capture_" });
    const file = `${dir}/asap.pcapng`;
    try {
      {
        await using capture = startCapture(port, file);
        await capture.started();
        await using pe = await connectAsap(port);
        await using pu = await connectAsap(port);
        // "Capturing on" comes before packets do: resolve until tshark has seen an answer.
        await withDeadline(
          (async () => {
            for (;;) {
              await pu.send(resolution("Marker"));
              await until(pu, AsapMessageType.handleResolutionResponse);
              try {
                return await capture.seen(AsapMessageType.handleResolutionResponse, 1, 500);
              } catch {
                // Not captured yet: resolve again.
              }
            }
          })(),
          30_000,
          "tshark to capture",
        );

        // Each step waits for its answer, so every message travels in a segment of its own.
        const lu = (load: number) => ({ type: PolicyType.leastUsed, load }) as const;
        await pe.send(registration("EchoPool", poolElement(1, { policy: lu(0x10000000) })));
        assert.equal((await until(pe, AsapMessageType.registrationResponse)).reject, false);
        await pe.send(registration("EchoPool", poolElement(2)));
        const refused = await until(pe, AsapMessageType.registrationResponse);
        assert.equal(refused.errorCauses?.[0]?.code, ErrorCauseCode.inconsistentPoolingPolicy);
        await pe.send(
          registration("EchoPool", poolElement(3, { policy: lu(5), registrationLife: 400 })),
        );
        await until(pe, AsapMessageType.registrationResponse);
        // The registration life runs out: a Deregistration Response; Keep-Alives on the way.
        assert.equal((await until(pe, AsapMessageType.deregistrationResponse)).poolElementId, 3);
        const keepAlive = await until(pe, AsapMessageType.endpointKeepAlive);
        await pe.send({
          type: AsapMessageType.endpointKeepAliveAck,
          poolHandle: keepAlive.poolHandle,
          poolElementId: 1,
        });

        await pu.send(resolution("EchoPool", 0xffffffff));
        const resolved = await until(pu, AsapMessageType.handleResolutionResponse);
        assert.equal(resolved.poolElements.length, 1);
        await pu.send({ type: AsapMessageType.cookie, cookie: Uint8Array.of(1, 2, 3, 4, 5) });
        await until(pu, AsapMessageType.error);
        await pu.send({
          type: AsapMessageType.endpointUnreachable,
          poolHandle: handle("EchoPool"),
          poolElementId: 1,
        });
        const probe = await until(pe, AsapMessageType.endpointKeepAlive);
        await pe.send({
          type: AsapMessageType.endpointKeepAliveAck,
          poolHandle: probe.poolHandle,
          poolElementId: 1,
        });
        await pe.send({
          type: AsapMessageType.deregistration,
          poolHandle: handle("EchoPool"),
          poolElementId: 1,
        });
        await until(pe, AsapMessageType.deregistrationResponse);
        // The last message the registrar sends; once tshark has it, it has all before it.
        await capture.seen(AsapMessageType.deregistrationResponse, 2);
      }

      const decodeAs = ["-r", file, "-d", `tcp.port==${port},asap`];
      assert.deepEqual(await tshark([...decodeAs, "-Y", "_ws.malformed"]), []);
      // Per frame: TCP payload length, then each ASAP message type and Length tshark found
      // (an Error's cause info shows the rejected message as a second one).
      const frames = async (direction: "src" | "dst") =>
        (await tshark([
          ...decodeAs,
          ...["-Y", `asap && tcp.${direction}port == ${port}`, "-T", "fields"],
          ...["-e", "tcp.len", "-e", "asap.message_type", "-e", "asap.message_length"],
        ])).map((line) => {
          const [payload, types, lengths] = line.split("\t");
          return {
            payload: Number(payload),
            type: Number(types?.split(",")[0]),
            length: Number(lengths?.split(",")[0]),
          };
        });
      const typesOf = (list: { type: number }[]) =>
        [...new Set(list.map((frame) => frame.type))].sort((a, b) => a - b);
      const fromRegistrar = await frames("src");
      const toRegistrar = await frames("dst");
      for (const frame of [...fromRegistrar, ...toRegistrar]) {
        // One message per segment: its padded length is the whole payload.
        assert.equal(frame.payload, (frame.length + 3) & ~3, JSON.stringify(frame));
      }
      assert.deepEqual(typesOf(fromRegistrar), [
        AsapMessageType.registrationResponse,
        AsapMessageType.deregistrationResponse,
        AsapMessageType.handleResolutionResponse,
        AsapMessageType.endpointKeepAlive,
        AsapMessageType.error,
      ]);
      assert.deepEqual(typesOf(toRegistrar), [1, 2, 5, 8, 9, 11]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
