/**
 * The baseline of bench/registrar_bench.ts: a minimal Deno TCP server that answers each framed
 * message at once with a message of the size the registrar's answer has, and does nothing else
 * (no decoding, no handlespace). It frames with lib/wire's MessageFramer, replies to everything
 * one read brought in one write, and prints its port on stdout.
 *
 *   deno run --allow-net bench/_asap_echo.ts --reply TYPE:ANSWER:BYTES [--reply ...]
 *
 * `--reply 1:3:24` answers a message of type 1 with 24 bytes of type 3; other types are
 * answered with a copy of themselves.
 */
import { parseArgs } from "node:util";
import { MessageFramer } from "../lib/wire/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { reply: { type: "string", multiple: true, default: [] } },
});

/** The prepared answer by request type: a header-only message padded with zeros. */
const replies = new Map<number, Uint8Array>();
for (const spec of values.reply) {
  const [type, answer, bytes] = spec.split(":").map(Number);
  if (
    type === undefined || answer === undefined || bytes === undefined ||
    !(bytes >= 4 && bytes % 4 === 0)
  ) {
    throw new RangeError(`Cannot use --reply ${spec}: expected TYPE:ANSWER:BYTES, BYTES by 4`);
  }
  const reply = new Uint8Array(bytes);
  reply.set([answer, 0, bytes >> 8, bytes & 0xff]);
  replies.set(type, reply);
}

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const framer = new MessageFramer();
  const input = new Uint8Array(64 * 1024);
  let output = new Uint8Array(64 * 1024);
  try {
    for (let n = await conn.read(input); n !== null; n = await conn.read(input)) {
      let size = 0;
      for (const message of framer.push(input.subarray(0, n))) {
        const reply = replies.get(message[0]!) ?? message;
        if (size + reply.length > output.length) {
          const grown = new Uint8Array(2 * (size + reply.length));
          grown.set(output.subarray(0, size));
          output = grown;
        }
        output.set(reply, size);
        size += reply.length;
      }
      for (let written = 0; written < size;) {
        written += await conn.write(output.subarray(written, size));
      }
    }
  } catch {
    // The benchmark closed the connection.
  } finally {
    conn.close();
  }
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(listener.addr.port);
for await (const conn of listener) void serve(conn);
