import assert from "node:assert/strict";
import {
  AsapMessageType,
  decodeAsapMessage,
  decodeEnrpMessage,
  messageToJson,
} from "../../../lib/wire/mod.ts";
import { vectorBytes, VECTORS } from "./_vectors.ts";

const vector = (name: string) => vectorBytes(VECTORS.find((v) => v.name === name)!);

Deno.test("messageToJson() names the message, policy and transport and shows loads as percent", () => {
  const json = messageToJson(decodeAsapMessage(vector("asap_registration_tcp_lu")));
  assert.deepEqual(json, {
    protocol: "ASAP",
    message: "ASAP_REGISTRATION",
    type: 1,
    poolHandle: "EchoPool",
    poolElement: {
      identifier: "0x12345678",
      homeRegistrarId: "0x00000000",
      registrationLife: 30000,
      userTransport: {
        protocol: "TCP",
        port: 7,
        transportUse: "data only",
        addresses: ["127.0.0.1"],
      },
      policy: { name: "LU", type: "0x40000001", load: 0x20000000, loadPercent: 12.5 },
    },
  });
  assert.deepEqual(JSON.parse(JSON.stringify(json)), json);
});

Deno.test("messageToJson() names error causes and prints cause info and cookies in hex", () => {
  assert.deepEqual(
    messageToJson(decodeEnrpMessage(vector("enrp_error_unknown_message"))).errorCauses,
    [{ code: 2, name: "Unrecognized Message", info: "5500000c0000002200000011" }],
  );
  assert.equal(
    messageToJson(decodeAsapMessage(vector("asap_cookie"))).cookie,
    "73746174653a3432",
  );
  const update = messageToJson(decodeEnrpMessage(vector("enrp_handle_update_add")));
  assert.equal(update.action, "ADD_PE");
  assert.equal(update.senderServerId, "0x00000011");
});

Deno.test("messageToJson() prints a pool handle that is not printable text in hex", () => {
  const json = messageToJson({
    type: AsapMessageType.handleResolution,
    poolHandle: Uint8Array.of(0x00, 0xff, 0x41),
    items: 3,
  });
  assert.deepEqual(json, {
    protocol: "ASAP",
    message: "ASAP_HANDLE_RESOLUTION",
    type: 5,
    poolHandleHex: "00ff41",
    items: 3,
  });
});
