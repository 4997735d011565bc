import assert from "node:assert/strict";
import {
  asapMessageName,
  AsapMessageType,
  decodeAsapMessage,
  encodeAsapMessage,
  ErrorCauseCode,
  ParameterType,
  PolicyType,
} from "../../../lib/wire/mod.ts";
import { assertWireError } from "./_assert_wire_error.ts";
import { expectedFields, fieldsFromTsharkJson, toHex } from "./_wireshark_fields.ts";
import { fromHex, vectorBytes, VECTORS } from "./_vectors.ts";
import { ASAP_TYPES, Random, randomAsapMessage } from "./generator.ts";

const ASAP_VECTORS = VECTORS.filter((v) => v.protocol === "asap");

// The message type a vector's name starts with: the longest RFC name that is a prefix of it.
function typeNamed(name: string): number {
  const matches = ASAP_TYPES.filter((t) => name.startsWith(asapMessageName(t).toLowerCase()));
  return matches.sort((a, b) => asapMessageName(b).length - asapMessageName(a).length)[0]!;
}

Deno.test("decodeAsapMessage() decodes every ASAP vector to the message its name says, with tshark's field values", () => {
  assert.equal(ASAP_VECTORS.length, 23);
  for (const vector of ASAP_VECTORS) {
    const bytes = vectorBytes(vector);
    const message = decodeAsapMessage(bytes);
    assert.equal(message.type, typeNamed(vector.name), vector.name);
    const ours = expectedFields("asap", message, bytes);
    const theirs = fieldsFromTsharkJson(vector.tshark, "asap");
    for (const [field, values] of theirs) {
      for (const value of values) {
        assert.ok(ours.get(field)?.includes(value), `${vector.name}: ${field} ${value}`);
      }
    }
    for (const field of ["message_type", "message_flags", "message_length"]) {
      assert.equal(ours.get(field)?.[0], theirs.get(field)?.[0], `${vector.name}: ${field}`);
    }
  }
});

Deno.test("encodeAsapMessage() re-encodes every ASAP vector byte for byte", () => {
  for (const vector of ASAP_VECTORS) {
    assert.equal(toHex(encodeAsapMessage(decodeAsapMessage(vectorBytes(vector)))), vector.hex);
  }
});

Deno.test("decodeAsapMessage() accepts a message without its final padding and with RSPLIB's padded Length", () => {
  const vector = ASAP_VECTORS.find((v) => v.name === "asap_cookie_echo_unaligned")!;
  const bytes = vectorBytes(vector);
  const expected = decodeAsapMessage(bytes);
  // 0c 00 0011 | 000d 000d "state:42!" | 000000: Length 17 excludes the final padding.
  assert.deepEqual(decodeAsapMessage(bytes.subarray(0, 17)), expected);
  const rsplib = bytes.slice();
  rsplib[3] = 20; // Length counts the padding, as RSPLIB sends it
  assert.deepEqual(decodeAsapMessage(rsplib), expected);
});

Deno.test("decodeAsapMessage() accepts a nested TLV whose enclosing Length covers its final padding", () => {
  // Registration: handle "Pool1" (9 + 3 pad), PE whose last inner TLV is an unaligned opaque
  // policy (type 0xc0000001, 1 value byte, Length 9): PE Length 12+8+... with and without pad.
  const handle = "00090009506f6f6c31000000";
  const transport = "0005001000070000" + "000100087f000001";
  const policy = "00080009c000000107000000";
  const rfc = "000a" + "0029" + "000000010000000200000003" + transport + policy;
  const rsplib = "000a" + "002c" + "000000010000000200000003" + transport + policy;
  const rfcMessage = fromHex("01000039" + handle + rfc);
  const rsplibMessage = fromHex("0100003c" + handle + rsplib);
  const decoded = decodeAsapMessage(rfcMessage);
  assert.deepEqual(decodeAsapMessage(rsplibMessage), decoded);
  assert.equal(toHex(encodeAsapMessage(decoded)), toHex(rfcMessage));
  assert.deepEqual(decoded.type === AsapMessageType.registration && decoded.poolElement.policy, {
    type: 0xc0000001,
    opaque: Uint8Array.of(7),
  });
});

Deno.test("decodeAsapMessage() round-trips 7,000 generated messages of every ASAP type", () => {
  const random = new Random(5352);
  for (let i = 0; i < 7000; i++) {
    const message = randomAsapMessage(random, ASAP_TYPES[i % ASAP_TYPES.length]);
    const bytes = encodeAsapMessage(message);
    assert.equal(bytes.length % 4, 0);
    const decoded = decodeAsapMessage(bytes);
    assert.deepStrictEqual(decoded, message);
    assert.deepStrictEqual(encodeAsapMessage(decoded), bytes);
  }
});

// Registration "EchoPool", PE 1: TCP 127.0.0.1:7, LU policy. Offsets: handle TLV at 4, PE TLV at
// 16 (fixed fields 20..32), TCP TLV at 32 (address TLV at 40), policy TLV at 48.
const REGISTRATION = "0100003c" + "0009000c4563686f506f6f6c" + "000a002c" +
  "000000010000000000007530" +
  "00050010" + "00070000" + "000100087f000001" + "0008000c" + "4000000120000000";

function patched(hex: string, offset: number, bytes: string): Uint8Array {
  const out = fromHex(hex);
  out.set(fromHex(bytes), offset);
  return out;
}

Deno.test("decodeAsapMessage() rejects malformed framing with Invalid Values at the Length field", () => {
  assertWireError(() => decodeAsapMessage(new Uint8Array(0)), ErrorCauseCode.invalidValues, 0);
  assertWireError(() => decodeAsapMessage(fromHex("010000")), ErrorCauseCode.invalidValues, 0);
  assertWireError(() => decodeAsapMessage(fromHex("01000003")), ErrorCauseCode.invalidValues, 2);
  assertWireError(
    () => decodeAsapMessage(fromHex(REGISTRATION).subarray(0, 40)),
    ErrorCauseCode.invalidValues,
    2,
    /length 60 exceeds the 40 bytes given/,
  );
  // Four bytes past the message: they start at roundup4(60) = 60.
  assertWireError(
    () => decodeAsapMessage(fromHex(REGISTRATION + "00000000")),
    ErrorCauseCode.invalidValues,
    60,
  );
  // Length 17 with 18 bytes: a partial padding starts at 17.
  const cookieEcho = fromHex("0c000011000d000d73746174653a343221000000");
  assertWireError(
    () => decodeAsapMessage(cookieEcho.subarray(0, 18)),
    ErrorCauseCode.invalidValues,
    17,
  );
  assertWireError(
    () => decodeAsapMessage(fromHex(REGISTRATION), { maxMessageLength: 59 }),
    ErrorCauseCode.lackOfResources,
    2,
  );
});

Deno.test("decodeAsapMessage() rejects bad parameter lengths at the parameter's Length field", () => {
  // Pool Element Length 3.
  assertWireError(
    () => decodeAsapMessage(patched(REGISTRATION, 18, "0003")),
    ErrorCauseCode.invalidValues,
    18,
    /length 3 is below the minimum 4/,
  );
  // Pool Element Length 48 runs past the message (44 bytes left from 16).
  assertWireError(
    () => decodeAsapMessage(patched(REGISTRATION, 18, "0030")),
    ErrorCauseCode.invalidValues,
    18,
  );
  // TCP transport Length 29 runs past the Pool Element (28 bytes left from 32): the TLV
  // cannot spill into what follows the Pool Element.
  assertWireError(
    () => decodeAsapMessage(patched(REGISTRATION, 34, "001d")),
    ErrorCauseCode.invalidValues,
    34,
    /length 29 exceeds the 28 bytes left/,
  );
  // TCP transport Length 12: its IPv4 Address TLV (8 bytes at 40) would run past it.
  assertWireError(
    () => decodeAsapMessage(patched(REGISTRATION, 34, "000c")),
    ErrorCauseCode.invalidValues,
    42,
    /length 8 exceeds the 4 bytes left/,
  );
  // IPv4 Address Length 6.
  assertWireError(
    () => decodeAsapMessage(patched(REGISTRATION, 42, "0006")),
    ErrorCauseCode.invalidValues,
    42,
    /length 6 is not 8/,
  );
  // LU policy Length 8: the load is missing.
  assertWireError(
    () => decodeAsapMessage(patched(REGISTRATION, 50, "0008")),
    ErrorCauseCode.invalidValues,
    50,
  );
});

Deno.test("decodeAsapMessage() rejects bad values with Invalid Values at the value", () => {
  // transport-use 2
  assertWireError(
    () => decodeAsapMessage(patched(REGISTRATION, 38, "0002")),
    ErrorCauseCode.invalidValues,
    38,
    /transport-use 2/,
  );
  // The PE Identifier parameter of a Deregistration with Length 6.
  const deregistration = "020000180009000c4563686f506f6f6c000e000812345678";
  assertWireError(
    () => decodeAsapMessage(patched(deregistration, 18, "0006")),
    ErrorCauseCode.invalidValues,
    18,
  );
  // An empty pool handle (Length 4) and one over the limit.
  assertWireError(
    () => decodeAsapMessage(fromHex("050000080009000400000000").subarray(0, 8)),
    ErrorCauseCode.invalidValues,
    6,
    /empty/,
  );
  assertWireError(
    () => decodeAsapMessage(fromHex(deregistration), { maxPoolHandleLength: 7 }),
    ErrorCauseCode.invalidValues,
    6,
    /exceed the limit 7/,
  );
});

Deno.test("decodeAsapMessage() rejects missing and misplaced parameters with Invalid Values", () => {
  // A Registration with the Pool Element cut off: the message ends at 16.
  const handleOnly = fromHex("010000100009000c4563686f506f6f6c");
  assertWireError(() => decodeAsapMessage(handleOnly), ErrorCauseCode.invalidValues, 16, /missing/);
  // A Cookie where the Pool Element should be.
  const cookieInstead = fromHex("010000180009000c4563686f506f6f6c000d000801020304");
  assertWireError(
    () => decodeAsapMessage(cookieInstead),
    ErrorCauseCode.invalidValues,
    16,
    /unexpected parameter type 0x000d/,
  );
  // A TCP transport with two addresses.
  const twoAddresses = "010000440009000c4563686f506f6f6c000a0034000000010000000000007530" +
    "00050018000700000001000800000001000100087f0000010008000c4000000120000000";
  assertWireError(
    () => decodeAsapMessage(fromHex(twoAddresses)),
    ErrorCauseCode.invalidValues,
    48,
    /more than one address/,
  );
});

Deno.test("decodeAsapMessage() follows the action bits of unknown parameter types", () => {
  const resolution = "050000180009000c4563686f506f6f6c";
  const unknown = (type: string) => fromHex(resolution + type + "000801020304");
  const stop = assertWireError(
    () => decodeAsapMessage(unknown("0123")),
    ErrorCauseCode.unrecognizedParameter,
    16,
  );
  assert.equal(stop.report, false);
  assert.deepEqual(stop.causeInfo, fromHex("0123000801020304"));
  const report = assertWireError(
    () => decodeAsapMessage(unknown("4123")),
    ErrorCauseCode.unrecognizedParameter,
    16,
  );
  assert.equal(report.report, true);
  const skipped = decodeAsapMessage(unknown("8123"));
  assert.deepEqual(skipped, {
    type: AsapMessageType.handleResolution,
    poolHandle: fromHex("4563686f506f6f6c"),
  });
  const recorded = decodeAsapMessage(unknown("c123"));
  assert.deepEqual(recorded.unrecognizedParameters, [fromHex("c123000801020304")]);
});

Deno.test("decodeAsapMessage() records a skip-and-report parameter nested in a Pool Element", () => {
  // An unknown 0xc001 TLV (Length 5, unaligned) between the PE's user transport and policy.
  const message = "010000440009000c4563686f506f6f6c000a0034000000010000000000007530" +
    "00050010000700000001000800000001" + "c001000509000000" + "0008000c4000000120000000";
  const decoded = decodeAsapMessage(fromHex(message));
  assert.deepEqual(decoded.unrecognizedParameters, [fromHex("c001000509")]);
  assert.equal(decoded.type, AsapMessageType.registration);
});

Deno.test("decodeAsapMessage() throws Unrecognized Message carrying the type and whether to report it", () => {
  const silent = assertWireError(
    () => decodeAsapMessage(fromHex("15000008deadbeef")),
    ErrorCauseCode.unrecognizedMessage,
    0,
  );
  assert.equal(silent.report, false);
  assert.equal(silent.messageType, 0x15);
  assert.deepEqual(silent.causeInfo, fromHex("15000008deadbeef"));
  const reported = assertWireError(
    () => decodeAsapMessage(fromHex("42000004")),
    ErrorCauseCode.unrecognizedMessage,
    0,
  );
  assert.equal(reported.report, true);
  assert.equal(reported.messageType, 0x42);
});

Deno.test("decodeAsapMessage() keeps an unknown policy type as an opaque policy", () => {
  const bytes = patched(REGISTRATION, 52, "b0009999");
  const decoded = decodeAsapMessage(bytes);
  assert.ok(decoded.type === AsapMessageType.registration);
  assert.deepEqual(decoded.poolElement.policy, {
    type: 0xb0009999,
    opaque: fromHex("20000000"),
  });
  assert.deepEqual(encodeAsapMessage(decoded), bytes);
});

Deno.test("decodeAsapMessage() enforces maxParameters with Lack of Resources", () => {
  // The Registration holds 5 TLVs: handle, PE, TCP, IPv4, policy; the 5th one trips a limit of 4.
  assertWireError(
    () => decodeAsapMessage(fromHex(REGISTRATION), { maxParameters: 4 }),
    ErrorCauseCode.lackOfResources,
    48,
  );
  assert.equal(decodeAsapMessage(fromHex(REGISTRATION), { maxParameters: 5 }).type, 1);
  assert.throws(() => decodeAsapMessage(fromHex(REGISTRATION), { maxParameters: 0 }), RangeError);
  assert.throws(
    () => decodeAsapMessage(fromHex(REGISTRATION), { maxMessageLength: 70000 }),
    RangeError,
  );
});

Deno.test("decodeAsapMessage() reads a Business Card with RSPLIB's policy parameter and drops it", () => {
  const card = fromHex(
    "0d0000480009000c4563686f506f6f6c" + "0008000c4000000120000000" +
      "000a002c12345678000000000000753000050010000700000001000800000001" +
      "0008000c4000000120000000",
  );
  const decoded = decodeAsapMessage(card);
  assert.ok(decoded.type === AsapMessageType.businessCard);
  assert.equal(decoded.poolElements.length, 1);
  assert.equal(encodeAsapMessage(decoded).length, card.length - 12);
});

Deno.test("encodeAsapMessage() rejects out-of-range fields, bad addresses and oversized messages", () => {
  const poolHandle = fromHex("4563686f");
  const poolElement = {
    identifier: 1,
    homeRegistrarId: 0,
    registrationLife: 30000,
    userTransport: {
      type: ParameterType.tcpTransport,
      port: 70000,
      transportUse: 0,
      addresses: ["127.0.0.1"],
    },
    policy: { type: PolicyType.roundRobin },
  } as const;
  assert.throws(
    () => encodeAsapMessage({ type: AsapMessageType.registration, poolHandle, poolElement }),
    (e: unknown) => e instanceof RangeError && /transport port .* 70000/.test(e.message),
  );
  assert.throws(
    () =>
      encodeAsapMessage({
        type: AsapMessageType.registration,
        poolHandle,
        poolElement: {
          ...poolElement,
          userTransport: { ...poolElement.userTransport, port: 7, addresses: ["localhost"] },
        },
      }),
    TypeError,
  );
  assert.throws(
    () => encodeAsapMessage({ type: AsapMessageType.cookie, cookie: new Uint8Array(65532) }),
    (e: unknown) => e instanceof RangeError && /exceeds 65535/.test(e.message),
  );
  assert.equal(
    encodeAsapMessage({ type: AsapMessageType.cookie, cookie: new Uint8Array(65527) }).length,
    65536,
  );
  assert.throws(
    () => encodeAsapMessage({ type: AsapMessageType.error, errorCauses: [] }),
    RangeError,
  );
});
