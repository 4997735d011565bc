import assert from "node:assert/strict";
import {
  decodeEnrpMessage,
  encodeEnrpMessage,
  enrpMessageName,
  EnrpMessageType,
  ErrorCauseCode,
  UpdateAction,
} from "../../../lib/wire/mod.ts";
import { assertWireError } from "./_assert_wire_error.ts";
import { expectedFields, fieldsFromTsharkJson, toHex } from "./_wireshark_fields.ts";
import { fromHex, vectorBytes, VECTORS } from "./_vectors.ts";
import { ENRP_TYPES, Random, randomEnrpMessage } from "./generator.ts";

const ENRP_VECTORS = VECTORS.filter((v) => v.protocol === "enrp");

function typeNamed(name: string): number {
  const matches = ENRP_TYPES.filter((t) => name.startsWith(enrpMessageName(t).toLowerCase()));
  return matches.sort((a, b) => enrpMessageName(b).length - enrpMessageName(a).length)[0]!;
}

Deno.test("decodeEnrpMessage() decodes every ENRP vector to the message its name says, with tshark's field values", () => {
  assert.equal(ENRP_VECTORS.length, 14);
  for (const vector of ENRP_VECTORS) {
    const bytes = vectorBytes(vector);
    const message = decodeEnrpMessage(bytes);
    assert.equal(message.type, typeNamed(vector.name), vector.name);
    const ours = expectedFields("enrp", message, bytes);
    const theirs = fieldsFromTsharkJson(vector.tshark, "enrp");
    for (const [field, values] of theirs) {
      for (const value of values) {
        assert.ok(ours.get(field)?.includes(value), `${vector.name}: ${field} ${value}`);
      }
    }
    for (const field of ["message_type", "message_flags", "message_length", "sender_servers_id"]) {
      assert.equal(ours.get(field)?.[0], theirs.get(field)?.[0], `${vector.name}: ${field}`);
    }
  }
});

Deno.test("encodeEnrpMessage() re-encodes every ENRP vector byte for byte", () => {
  for (const vector of ENRP_VECTORS) {
    assert.equal(toHex(encodeEnrpMessage(decodeEnrpMessage(vectorBytes(vector)))), vector.hex);
  }
});

Deno.test("decodeEnrpMessage() reads flags as the vectors set them", () => {
  const byName = (name: string) =>
    decodeEnrpMessage(vectorBytes(ENRP_VECTORS.find((v) => v.name === name)!));
  assert.deepEqual(byName("enrp_handle_table_response_reject"), {
    type: EnrpMessageType.handleTableResponse,
    senderServerId: 0x11,
    receiverServerId: 0x22,
    reject: true,
    more: false,
    entries: [],
  });
  const update = byName("enrp_handle_update_del_takeover_suggested");
  assert.ok(update.type === EnrpMessageType.handleUpdate);
  assert.equal(update.takeoverSuggested, true);
  assert.equal(update.action, UpdateAction.deletePoolElement);
  const presence = byName("enrp_presence_checksum_only");
  assert.deepEqual(presence, {
    type: EnrpMessageType.presence,
    senderServerId: 0x11,
    receiverServerId: 0x22,
    replyRequired: false,
    checksum: 0x29a5,
  });
});

Deno.test("decodeEnrpMessage() round-trips 7,000 generated messages of every ENRP type", () => {
  const random = new Random(5353);
  for (let i = 0; i < 7000; i++) {
    const message = randomEnrpMessage(random, ENRP_TYPES[i % ENRP_TYPES.length]);
    const bytes = encodeEnrpMessage(message);
    assert.equal(bytes.length % 4, 0);
    const decoded = decodeEnrpMessage(bytes);
    assert.deepStrictEqual(decoded, message);
    assert.deepStrictEqual(encodeEnrpMessage(decoded), bytes);
  }
});

Deno.test("decodeEnrpMessage() rejects a message cut inside its server IDs", () => {
  // 05 00 000a | sender 00000022 | receiver 0000 (2 of 4 bytes)
  assertWireError(
    () => decodeEnrpMessage(fromHex("0500000a000000220000")),
    ErrorCauseCode.invalidValues,
    8,
    /needs 4 bytes, 2 left/,
  );
});

Deno.test("decodeEnrpMessage() rejects bad Handle Update, Handle Table and Presence bodies", () => {
  const update = vectorBytes(ENRP_VECTORS.find((v) => v.name === "enrp_handle_update_add")!);
  const badAction = update.slice();
  badAction[13] = 2; // update action 0x0002 at offset 12
  assertWireError(() => decodeEnrpMessage(badAction), ErrorCauseCode.invalidValues, 12, /action 2/);
  // Handle Table Response: a pool handle without a pool element.
  assertWireError(
    () => decodeEnrpMessage(fromHex("030000180000001100000022" + "0009000c4563686f506f6f6c")),
    ErrorCauseCode.invalidValues,
    24,
    /missing/,
  );
  // Presence without its PE Checksum.
  assertWireError(
    () => decodeEnrpMessage(fromHex("0100000c0000001100000022")),
    ErrorCauseCode.invalidValues,
    12,
  );
  // PE Checksum with Length 8 (RFC 5354 §3.15: 6).
  assertWireError(
    () => decodeEnrpMessage(fromHex("010000140000001100000022000f0008beef0000")),
    ErrorCauseCode.invalidValues,
    14,
  );
  // Init Takeover with a known parameter after the target.
  assertWireError(
    () => decodeEnrpMessage(fromHex("07000018000000110000002200000033000e000800000001")),
    ErrorCauseCode.invalidValues,
    16,
    /unexpected parameter type 0x000e/,
  );
});

Deno.test("decodeEnrpMessage() throws Unrecognized Message before reading the body", () => {
  const silent = assertWireError(
    () => decodeEnrpMessage(fromHex("0b000004")),
    ErrorCauseCode.unrecognizedMessage,
    0,
  );
  assert.equal(silent.report, false);
  const reported = assertWireError(
    () => decodeEnrpMessage(fromHex("5500000c0000002200000011")),
    ErrorCauseCode.unrecognizedMessage,
    0,
  );
  assert.equal(reported.report, true);
  assert.equal(reported.messageType, 0x55);
  assert.equal(reported.causeInfo?.length, 12);
});
