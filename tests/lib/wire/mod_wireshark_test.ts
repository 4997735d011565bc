/**
 * Wireshark conformance: messages of every ASAP and ENRP type, encoded by Poolgate, are
 * wrapped as UDP datagrams to port 3863 (ASAP) and 9901 (ENRP) with text2pcap, and tshark 4.0
 * must decode each without a malformed mark and show the field values that were encoded.
 * One pcap and one tshark run per protocol.
 *
 * Nothing had to be left out for tshark 4.0.17: it shows Opaque Transport (0x10) as an unknown
 * parameter and policies it does not know (the DPF and RSPLIB variants, private types) as a raw
 * policy value, neither marked malformed. ENRP messages never carry the Handle Resolution
 * Option, which its ENRP dissector does not know.
 */
import assert from "node:assert/strict";
import {
  type AsapMessage,
  encodeAsapMessage,
  encodeEnrpMessage,
  type EnrpMessage,
  parseIpAddress,
} from "../../../lib/wire/mod.ts";
import { needsPrograms } from "../../_support/external_program.ts";
import { comparedFields, expectedFields, type FieldMap, toHex } from "./_wireshark_fields.ts";
import {
  ASAP_TYPES,
  ENRP_TYPES,
  Random,
  randomAsapMessage,
  randomEnrpMessage,
} from "./generator.ts";

const MESSAGES_PER_TYPE = 50;
// 01 00 0010 | Pool Handle TLV claiming Length 0x40 in a 16-byte message: tshark must flag it.
const MALFORMED_CONTROL = Uint8Array.of(
  1,
  0,
  0,
  16,
  0,
  9,
  0,
  0x40,
  0x41,
  0x42,
  0x43,
  0x44,
  0,
  0,
  0,
  0,
);

function hexdump(packets: readonly Uint8Array[]): string {
  const lines: string[] = [];
  for (const packet of packets) {
    for (let at = 0; at < packet.length; at += 16) {
      const row = Array.from(packet.subarray(at, at + 16), (b) => b.toString(16).padStart(2, "0"));
      lines.push(`${at.toString(16).padStart(6, "0")}  ${row.join(" ")}`);
    }
  }
  return lines.join("\n") + "\n";
}

async function run(program: string, args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(program, { args }).output();
  const text = new TextDecoder().decode(stdout);
  assert.equal(code, 0, `${program} ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
  return text;
}

interface Decoded {
  readonly malformed: string;
  readonly fields: FieldMap;
}

// Wraps `packets` as UDP datagrams to `port` and returns what tshark shows for each.
async function tshark(
  protocol: "asap" | "enrp",
  port: number,
  packets: readonly Uint8Array[],
): Promise<Decoded[]> {
  const dir = await Deno.makeTempDir({ prefix: "poolgate_wire_" });
  try {
    await Deno.writeTextFile(`${dir}/${protocol}.txt`, hexdump(packets));
    // Source port above the destination port, so Wireshark picks the dissector by 3863/9901.
    await run("text2pcap", [
      "-q",
      "-4",
      "127.0.0.1,127.0.0.2",
      "-u",
      `49152,${port}`,
      `${dir}/${protocol}.txt`,
      `${dir}/${protocol}.pcap`,
    ]);
    const names = comparedFields(protocol);
    const fieldArgs = names.flatMap((field) => ["-e", `${protocol}.${field}`]);
    const out = await run("tshark", [
      "-r",
      `${dir}/${protocol}.pcap`,
      "-T",
      "fields",
      "-E",
      "occurrence=a",
      "-E",
      "aggregator=,",
      "-E",
      "separator=/t",
      "-e",
      "_ws.malformed",
      ...fieldArgs,
    ]);
    return out.trimEnd().split("\n").map((line) => {
      const [malformed = "", ...columns] = line.split("\t");
      const fields: FieldMap = new Map();
      names.forEach((field, i) => {
        if (columns[i]) fields.set(field, columns[i]!.split(","));
      });
      return { malformed, fields };
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// tshark prints IPv4-compatible addresses (::/96, deprecated by RFC 4291) in dotted form, as
// inet_ntop does; Poolgate writes RFC 5952 text (::ca3c:bd86). IPv6 addresses compare as bytes.
function comparable(fields: FieldMap): Record<string, string[]> {
  const ipv6 = fields.get("ipv6_address");
  const copy = new Map(fields);
  if (ipv6 !== undefined) {
    copy.set(
      "ipv6_address",
      ipv6.map((text) => toHex(parseIpAddress(text)!)),
    );
  }
  return Object.fromEntries(copy);
}

function compare(
  protocol: "asap" | "enrp",
  messages: readonly (AsapMessage | EnrpMessage)[],
  packets: readonly Uint8Array[],
  decoded: readonly Decoded[],
): void {
  assert.equal(decoded.length, messages.length + 1);
  messages.forEach((message, i) => {
    const { malformed, fields } = decoded[i]!;
    const context = `${protocol} packet ${i + 1} (type ${message.type})`;
    assert.equal(malformed, "", `${context}: ${malformed}`);
    assert.deepEqual(
      comparable(fields),
      comparable(expectedFields(protocol, message, packets[i]!)),
      context,
    );
  });
  assert.notEqual(decoded.at(-1)!.malformed, "", "the malformed control packet is flagged");
}

Deno.test({
  name: "encodeAsapMessage() output of every ASAP type decodes in tshark with the encoded fields",
  ...needsPrograms("tshark", "text2pcap"),
  async fn() {
    const random = new Random(3863);
    const messages = ASAP_TYPES.flatMap((type) =>
      Array.from({ length: MESSAGES_PER_TYPE }, () => randomAsapMessage(random, type))
    );
    const packets = messages.map(encodeAsapMessage);
    compare("asap", messages, packets, await tshark("asap", 3863, [...packets, MALFORMED_CONTROL]));
  },
});

Deno.test({
  name: "encodeEnrpMessage() output of every ENRP type decodes in tshark with the encoded fields",
  ...needsPrograms("tshark", "text2pcap"),
  async fn() {
    const random = new Random(9901);
    const messages = ENRP_TYPES.flatMap((type) =>
      Array.from({ length: MESSAGES_PER_TYPE }, () => randomEnrpMessage(random, type))
    );
    const packets = messages.map(encodeEnrpMessage);
    const control = MALFORMED_CONTROL.slice();
    control[7] = 0x40;
    compare("enrp", messages, packets, await tshark("enrp", 9901, [...packets, control]));
  },
});
