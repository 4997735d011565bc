import assert from "node:assert/strict";
import { formatIpv4, formatIpv6, parseIpAddress } from "../../../lib/wire/mod.ts";
import { fromHex } from "./_vectors.ts";

Deno.test("formatIpv6() writes RFC 5952 text", () => {
  const cases: [string, string][] = [
    ["20010db8000000000000000000000001", "2001:db8::1"],
    ["00000000000000000000000000000001", "::1"],
    ["00000000000000000000000000000000", "::"],
    ["20010db8000000010000000000000001", "2001:db8:0:1::1"], // §4.2.3: longest run
    ["20010db8000000000001000000000001", "2001:db8::1:0:0:1"], // §4.2.3: first of equal runs
    ["20010db8000000010001000100010001", "2001:db8:0:1:1:1:1:1"], // §4.2.2: one 0 stays
    ["20010DB8AAAABBBBCCCCDDDDEEEE0001".toLowerCase(), "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"],
    ["00000000000000000000ffffc0000280", "::ffff:192.0.2.128"], // §5: IPv4-mapped
  ];
  for (const [hex, text] of cases) {
    assert.equal(formatIpv6(fromHex(hex), 0), text);
    assert.deepEqual(parseIpAddress(text), fromHex(hex));
  }
});

Deno.test("formatIpv4() writes a dotted quad at an offset", () => {
  assert.equal(formatIpv4(Uint8Array.of(9, 127, 0, 0, 1), 1), "127.0.0.1");
  assert.equal(formatIpv4(Uint8Array.of(255, 255, 255, 0), 0), "255.255.255.0");
});

Deno.test("parseIpAddress() reads any valid text and rejects the rest", () => {
  assert.deepEqual(parseIpAddress("10.1.1.1"), Uint8Array.of(10, 1, 1, 1));
  assert.deepEqual(parseIpAddress("2001:DB8:0:0:0:0:0:1"), parseIpAddress("2001:db8::1"));
  assert.deepEqual(parseIpAddress("::1.2.3.4"), fromHex("00000000000000000000000001020304"));
  for (
    const bad of [
      "",
      "1.2.3",
      "1.2.3.256",
      "a.b.c.d",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "12345::",
      "localhost",
      "::1%eth0",
      "1:2:3:4:5:6:7::8",
    ]
  ) {
    assert.equal(parseIpAddress(bad), undefined, bad);
  }
});
