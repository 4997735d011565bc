import assert from "node:assert/strict";
import {
  type ControlFrame,
  DataChannelDecoder,
  Decoded,
  encodeControlFrame,
  encodeHello,
  FrameType,
  writeDataFrames,
} from "../../../lib/asap/data_channel.ts";
import {
  type PeSessionEventDetails,
  type PeSessionServer,
  servePeSessions,
} from "../../../lib/asap/pe_session.ts";
import {
  decodeEchoCookie,
  echoService,
  encodeEchoCookie,
} from "../../../lib/asap/examples/echo_service.ts";
import {
  decodeSumCookie,
  encodeSumCookie,
  sumChunk,
  type SumState,
} from "../../../lib/asap/examples/sum_service.ts";
import {
  AsapMessageType,
  ErrorCauseCode,
  ParameterType,
  PolicyType,
  TransportUse,
} from "../../../lib/wire/codes.ts";
import { withDeadline } from "../../_support/deadline.ts";

const MS = 5000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function dataFrame(text: string | Uint8Array): Uint8Array {
  const payload = typeof text === "string" ? encoder.encode(text) : text;
  const out = new Uint8Array(payload.length + 4);
  writeDataFrames(out, 0, payload);
  return out;
}

const END = encodeControlFrame({ type: FrameType.end });

function echoFrame(consumed: number, produced: number, cookie: Uint8Array): Uint8Array {
  return encodeControlFrame({
    type: FrameType.cookie,
    position: { consumed, produced },
    message: { type: AsapMessageType.cookieEcho, cookie },
  });
}

/** The proxy's end of one channel, scripted: writes bytes, reads the PE's frames. */
class ScriptedProxy implements Disposable {
  readonly conn: Deno.TcpConn;
  readonly #decoder = new DataChannelDecoder({ peer: "pool-element" });
  readonly #buffer = new Uint8Array(64 * 1024);
  readonly data: number[] = [];
  readonly frames: { frame: ControlFrame; dataBefore: number }[] = [];
  hello = false;
  eof = false;

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  static async open(server: PeSessionServer): Promise<ScriptedProxy> {
    return new ScriptedProxy(await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }));
  }

  async send(...parts: Uint8Array[]): Promise<void> {
    for (const part of parts) {
      for (let at = 0; at < part.length;) at += await this.conn.write(part.subarray(at));
    }
  }

  /** Reads until `done()` holds or the PE closes; rejects after the deadline. */
  until(done: () => boolean, what: string): Promise<void> {
    return withDeadline(
      (async () => {
        while (!done() && !this.eof) {
          const n = await this.conn.read(this.#buffer);
          if (n === null) {
            this.eof = true;
            break;
          }
          this.#decoder.feed(this.#buffer.subarray(0, n));
          for (
            let kind = this.#decoder.next();
            kind !== Decoded.none;
            kind = this.#decoder.next()
          ) {
            if (kind === Decoded.hello) this.hello = true;
            else if (kind === Decoded.data) {
              this.data.push(
                ...this.#buffer.subarray(this.#decoder.dataStart, this.#decoder.dataEnd),
              );
            } else {
              const frame = this.#decoder.frame;
              this.frames.push({
                frame: frame.type === FrameType.cookie
                  ? {
                    ...frame,
                    message: { ...frame.message, cookie: frame.message.cookie.slice() },
                  }
                  : frame,
                dataBefore: this.data.length,
              });
            }
          }
        }
      })(),
      MS,
      what,
    );
  }

  text(): string {
    return decoder.decode(Uint8Array.from(this.data));
  }

  [Symbol.dispose](): void {
    try {
      this.conn.close();
    } catch {
      // Closed by the test.
    }
  }
}

/** The next "session-end" of `server`. */
function sessionEnd(server: PeSessionServer): Promise<PeSessionEventDetails["session-end"]> {
  return withDeadline(
    new Promise((resolve) => {
      server.addEventListener("session-end", (event) => resolve(event.detail), { once: true });
    }),
    MS,
    "session-end",
  );
}

function echoServer(cookieEveryBytes = 4) {
  return servePeSessions({ hostname: "127.0.0.1", port: 0, ...echoService({ cookieEveryBytes }) });
}

Deno.test("servePeSessions() greets, echoes, sends cookies with their positions and ends both ways", async () => {
  await using server = echoServer(4);
  const ended = sessionEnd(server);
  using proxy = await ScriptedProxy.open(server);
  await proxy.send(encodeHello({ version: 1, resume: false }), dataFrame("abc"), dataFrame("defg"));
  await proxy.until(() => proxy.frames.length >= 1, "a cookie");
  assert.ok(proxy.hello);
  assert.equal(proxy.text(), "abcdefg");
  const [{ frame, dataBefore }] = proxy.frames as [{ frame: ControlFrame; dataBefore: number }];
  assert.ok(frame.type === FrameType.cookie);
  // Cookies go out every 4 bytes read: after "abc" (3) none, after "defg" (7) one.
  assert.deepEqual(frame.position, { consumed: 7, produced: 7 });
  assert.equal(dataBefore, 7);
  assert.equal(decodeEchoCookie(frame.message.cookie), 7);
  await proxy.send(END);
  await proxy.until(() => proxy.frames.some(({ frame }) => frame.type === FrameType.end), "end");
  assert.deepEqual(await ended, {
    sessionId: 1,
    peer: `127.0.0.1:${proxy.conn.localAddr.port}`,
    reason: "completed",
    consumed: 7,
    produced: 7,
  });
  await proxy.until(() => false, "the PE to close");
  assert.ok(proxy.eof);
});

Deno.test("servePeSessions() restores from a Cookie Echo before any replayed byte and counts on from it", async () => {
  const restored: (string | undefined)[] = [];
  await using server = servePeSessions({
    hostname: "127.0.0.1",
    port: 0,
    restore(cookie, session) {
      restored.push(cookie === undefined ? undefined : decoder.decode(cookie));
      assert.equal(session.consumed, 100);
      assert.equal(session.produced, 40);
      return cookie === undefined ? "" : decoder.decode(cookie);
    },
    async serve(session, state) {
      const buffer = new Uint8Array(16);
      const n = await session.read(buffer);
      await session.write(encoder.encode(`${state}+${decoder.decode(buffer.subarray(0, n ?? 0))}`));
      await session.sendCookie(encoder.encode("next"));
    },
  });
  const started = new Promise<PeSessionEventDetails["session-start"]>((resolve) => {
    server.addEventListener("session-start", (event) => resolve(event.detail), { once: true });
  });
  using proxy = await ScriptedProxy.open(server);
  await proxy.send(
    encodeHello({ version: 1, resume: true }),
    echoFrame(100, 40, encoder.encode("state")),
    dataFrame("xy"),
  );
  await proxy.until(() => proxy.frames.length >= 2, "a cookie and the end");
  assert.deepEqual(restored, ["state"]);
  assert.deepEqual((await started).resumedAt, { consumed: 100, produced: 40 });
  assert.equal(proxy.text(), "state+xy");
  const cookie = proxy.frames[0]?.frame;
  assert.ok(cookie?.type === FrameType.cookie);
  assert.deepEqual(cookie.position, { consumed: 102, produced: 48 });
  assert.equal(proxy.frames[1]?.frame.type, FrameType.end);
});

Deno.test("servePeSessions() answers a refused Cookie Echo with an ASAP Error and closes the channel", async () => {
  await using server = echoServer();
  const ended = sessionEnd(server);
  using proxy = await ScriptedProxy.open(server);
  // An echo cookie whose count does not match the position it comes with.
  await proxy.send(
    encodeHello({ version: 1, resume: true }),
    echoFrame(10, 10, encodeEchoCookie(9)),
  );
  await proxy.until(() => false, "the PE to close");
  assert.deepEqual(proxy.frames.map(({ frame }) => frame), [{
    type: FrameType.asap,
    message: {
      type: AsapMessageType.error,
      errorCauses: [{ code: ErrorCauseCode.invalidValues, info: new Uint8Array(0) }],
    },
  }]);
  assert.equal((await ended).reason, "refused");
});

Deno.test("servePeSessions() closes a channel that opens with garbage or says nothing", async () => {
  await using server = servePeSessions({
    hostname: "127.0.0.1",
    port: 0,
    handshakeTimeoutMs: 200,
    ...echoService(),
  });
  {
    const ended = sessionEnd(server);
    using proxy = await ScriptedProxy.open(server);
    await proxy.send(encoder.encode("GET / HTTP/1.1\r\n\r\n"));
    await proxy.until(() => false, "the PE to close");
    assert.equal((await ended).reason, "protocol-error");
  }
  {
    const ended = sessionEnd(server);
    using proxy = await ScriptedProxy.open(server);
    await proxy.until(() => false, "the PE to close");
    assert.equal((await ended).reason, "protocol-error");
  }
  {
    // A second Cookie Echo in the middle of a session.
    const ended = sessionEnd(server);
    using proxy = await ScriptedProxy.open(server);
    await proxy.send(
      encodeHello({ version: 1, resume: false }),
      echoFrame(0, 0, encodeEchoCookie(0)),
    );
    await proxy.until(() => false, "the PE to close");
    assert.equal((await ended).reason, "protocol-error");
  }
});

Deno.test("servePeSessions() takes a channel closed without an end frame as lost, not completed", async () => {
  await using server = echoServer();
  const ended = sessionEnd(server);
  const proxy = await ScriptedProxy.open(server);
  await proxy.send(encodeHello({ version: 1, resume: false }), dataFrame("abcd"));
  await proxy.until(() => proxy.data.length === 4, "the echo");
  proxy[Symbol.dispose]();
  const detail = await ended;
  assert.equal(detail.reason, "channel-lost");
  assert.equal(detail.consumed, 4);
});

Deno.test("PeSession.sendBusinessCard() sends an ASAP frame the proxy can decode", async () => {
  const target = {
    identifier: 0xabc,
    homeRegistrarId: 0,
    registrationLife: 30_000,
    userTransport: {
      type: ParameterType.tcpTransport,
      port: 9,
      transportUse: TransportUse.dataPlusControl,
      addresses: ["127.0.0.1"],
    },
    policy: { type: PolicyType.roundRobin },
  } as const;
  await using server = servePeSessions({
    hostname: "127.0.0.1",
    port: 0,
    restore: () => undefined,
    async serve(session) {
      await session.sendBusinessCard("echo", [target]);
    },
  });
  using proxy = await ScriptedProxy.open(server);
  await proxy.send(encodeHello({ version: 1, resume: false }));
  await proxy.until(() => proxy.frames.length >= 2, "the card and the end");
  const card = proxy.frames[0]?.frame;
  assert.ok(card?.type === FrameType.asap && card.message.type === AsapMessageType.businessCard);
  assert.deepEqual(card.message.poolHandle, encoder.encode("echo"));
  assert.equal(card.message.poolElements[0]?.identifier, 0xabc);
});

Deno.test("PeSessionServer.shutdown() closes open channels without an end frame", async () => {
  const server = echoServer();
  const ended = sessionEnd(server);
  using proxy = await ScriptedProxy.open(server);
  await proxy.send(encodeHello({ version: 1, resume: false }), dataFrame("a"));
  await proxy.until(() => proxy.data.length === 1, "the echo");
  await withDeadline(server.shutdown(), MS, "shutdown");
  await proxy.until(() => false, "the PE to close");
  assert.ok(!proxy.frames.some(({ frame }) => frame.type === FrameType.end));
  assert.equal((await ended).reason, "shutdown");
  assert.throws(
    () => servePeSessions({ port: 0, maxSessions: 0, ...echoService() }),
    RangeError,
  );
});

Deno.test("sumChunk() answers the same for any split of the input, and its cookie keeps the partial line", () => {
  const input = encoder.encode("1\n2\n-5\nx\n" + "9".repeat(2000) + "\n40\n7");
  const fresh = (): SumState => ({ sum: 0n, partial: new Uint8Array(0), tooLong: false });
  const whole = fresh();
  const expected = sumChunk(whole, input);
  assert.equal(expected, "1\n3\n-2\nerror: not an integer\nerror: line too long\n38\n");
  for (let cut = 0; cut <= input.length; cut += 7) {
    let state = fresh();
    let out = sumChunk(state, input.subarray(0, cut));
    // Through a cookie, as a failover would.
    state = decodeSumCookie(encodeSumCookie(state));
    out += sumChunk(state, input.subarray(cut));
    assert.equal(out, expected, `split at ${cut}`);
    assert.equal(state.sum, 38n);
    assert.deepEqual(state.partial, encoder.encode("7"));
  }
  assert.throws(() => decodeSumCookie(encoder.encode("nonsense")), TypeError);
});
