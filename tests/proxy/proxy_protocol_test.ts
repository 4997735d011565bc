/**
 * PROXY protocol v1/v2 encoding and decoding against byte vectors written out field by field
 * from the specification (haproxy.org proxy-protocol.txt §2.1, §2.2).
 */
import assert from "node:assert/strict";
import {
  decodeProxyHeader,
  encodeProxyHeaderV1,
  encodeProxyHeaderV2,
  type ProxyHeader,
  ProxyProtocolError,
} from "../../proxy/proxy_protocol.ts";

const text = (s: string) => new TextEncoder().encode(s);
const client4 = { hostname: "192.0.2.10", port: 56324 };
const server4 = { hostname: "198.51.100.1", port: 443 };
const client6 = { hostname: "2001:db8::10", port: 56324 };
const server6 = { hostname: "2001:db8:0:0:1::1", port: 443 };

const SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

/** v2 header for client4 → server4. */
const V2_TCP4 = Uint8Array.of(
  ...SIGNATURE,
  0x21, // version 2, command PROXY
  0x11, // AF_INET, STREAM
  0x00,
  0x0c, // address block: 12 bytes
  192,
  0,
  2,
  10, // source 192.0.2.10
  198,
  51,
  100,
  1, // destination 198.51.100.1
  0xdc,
  0x04, // source port 56324
  0x01,
  0xbb, // destination port 443
);

/** v2 header for client6 → server6. */
const V2_TCP6 = Uint8Array.of(
  ...SIGNATURE,
  0x21, // version 2, command PROXY
  0x21, // AF_INET6, STREAM
  0x00,
  0x24, // address block: 36 bytes
  ...[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x10], // 2001:db8::10
  ...[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0x00, 0x01], // 2001:db8::1:0:0:1
  0xdc,
  0x04, // source port 56324
  0x01,
  0xbb, // destination port 443
);

function decoded(bytes: Uint8Array): ProxyHeader {
  const result = decodeProxyHeader(bytes);
  assert.ok(result.complete, "complete");
  return result.header;
}

Deno.test("encodeProxyHeaderV1() writes the TCP4 line of §2.1", () => {
  assert.deepEqual(
    encodeProxyHeaderV1(client4, server4),
    text("PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n"),
  );
});

Deno.test("encodeProxyHeaderV1() writes TCP6 with RFC 5952 text and maps a lone IPv4 side", () => {
  assert.deepEqual(
    encodeProxyHeaderV1(client6, server6),
    text("PROXY TCP6 2001:db8::10 2001:db8::1:0:0:1 56324 443\r\n"),
  );
  assert.deepEqual(
    encodeProxyHeaderV1(client4, { hostname: "::1", port: 80 }),
    text("PROXY TCP6 ::ffff:192.0.2.10 ::1 56324 80\r\n"),
  );
  assert.deepEqual(
    encodeProxyHeaderV1({ hostname: "::ffff:192.0.2.10", port: 1 }, server4),
    text("PROXY TCP4 192.0.2.10 198.51.100.1 1 443\r\n"),
  );
});

Deno.test("encodeProxyHeaderV1() writes UNKNOWN when an address is missing or not an IP", () => {
  assert.deepEqual(encodeProxyHeaderV1(undefined, server4), text("PROXY UNKNOWN\r\n"));
  assert.deepEqual(
    encodeProxyHeaderV1({ hostname: "localhost", port: 1 }, server4),
    text("PROXY UNKNOWN\r\n"),
  );
});

Deno.test("encodeProxyHeaderV2() writes the §2.2 bytes for TCP over IPv4 and IPv6", () => {
  assert.deepEqual(encodeProxyHeaderV2(client4, server4), V2_TCP4);
  assert.deepEqual(encodeProxyHeaderV2(client6, server6), V2_TCP6);
});

Deno.test("encodeProxyHeaderV2() writes AF_UNSPEC with an empty address block when unknown", () => {
  assert.deepEqual(
    encodeProxyHeaderV2(undefined, undefined),
    Uint8Array.of(...SIGNATURE, 0x21, 0x00, 0x00, 0x00),
  );
});

Deno.test("decodeProxyHeader() reads v1 and v2 headers back with their length", () => {
  const v1 = encodeProxyHeaderV1(client6, server6);
  assert.deepEqual(decoded(v1), {
    version: 1,
    length: v1.length,
    source: client6,
    destination: { hostname: "2001:db8::1:0:0:1", port: 443 },
  });
  assert.deepEqual(decoded(V2_TCP4), {
    version: 2,
    length: 28,
    source: client4,
    destination: server4,
  });
  assert.deepEqual(decoded(V2_TCP6).source, client6);
  assert.deepEqual(decoded(text("PROXY UNKNOWN whatever\r\n")), {
    version: 1,
    length: 24,
    source: undefined,
    destination: undefined,
  });
});

Deno.test("decodeProxyHeader() says incomplete at every split point of a header", () => {
  for (const header of [encodeProxyHeaderV1(client4, server4), V2_TCP4]) {
    for (let cut = 0; cut < header.length; cut++) {
      assert.deepEqual(decodeProxyHeader(header.subarray(0, cut)), { complete: false }, `${cut}`);
    }
  }
});

Deno.test("decodeProxyHeader() leaves the client bytes after the header alone", () => {
  const bytes = Uint8Array.of(...V2_TCP4, 0x47, 0x45, 0x54);
  assert.equal(decoded(bytes).length, V2_TCP4.length);
});

Deno.test("decodeProxyHeader() skips v2 TLVs and takes LOCAL as no address", () => {
  const withTlv = Uint8Array.of(
    ...V2_TCP4.subarray(0, 14),
    0x00,
    0x11,
    ...V2_TCP4.subarray(16),
    0x04,
    0x00,
    0x02,
    0xab,
    0xcd,
  ); // PP2_TYPE_NOOP, length 2
  assert.deepEqual(decoded(withTlv), {
    version: 2,
    length: 33,
    source: client4,
    destination: server4,
  });
  const local = Uint8Array.of(...SIGNATURE, 0x20, 0x00, 0x00, 0x00);
  assert.deepEqual(decoded(local), {
    version: 2,
    length: 16,
    source: undefined,
    destination: undefined,
  });
});

Deno.test("decodeProxyHeader() rejects malformed headers with the offset of the fault", () => {
  const cases: [Uint8Array, number, RegExp][] = [
    [text("GET / HTTP/1.1\r\n"), 0, /neither the v1 nor the v2 signature/],
    [text("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), 6, /unknown protocol 'TCP5'/],
    [text("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), 6, /5 fields instead of 6/],
    [text("PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n"), 11, /'1.2.3.04' is not an TCP4 address/],
    [text("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n"), 29, /'65536' is not a port/],
    [text("PROXY TCP6 ::1 1.2.3.4 1 2\r\n"), 15, /'1.2.3.4' is not an TCP6 address/],
    [text("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), 30, /LF without CR/],
    [text(`PROXY UNKNOWN ${"x".repeat(100)}`), 0, /no CRLF within 107 bytes/],
    [Uint8Array.of(...SIGNATURE, 0x11, 0x11, 0, 12), 12, /version 1 instead of 2/],
    [Uint8Array.of(...SIGNATURE, 0x22, 0x11, 0, 12), 12, /unknown command 2/],
    [Uint8Array.of(...SIGNATURE, 0x21, 0x41, 0, 12), 13, /unknown address family/],
    [Uint8Array.of(...SIGNATURE, 0x21, 0x11, 0, 8), 14, /address length 8 is below the 12/],
    [Uint8Array.of(...SIGNATURE, 0x21, 0x11, 0x10, 0), 14, /length 4112 is above the maximum 4096/],
  ];
  for (const [bytes, offset, message] of cases) {
    assert.throws(
      () => decodeProxyHeader(bytes),
      (error) => {
        assert.ok(error instanceof ProxyProtocolError, String(error));
        assert.equal(error.name, "ProxyProtocolError");
        assert.match(error.message, message);
        assert.equal(error.offset, offset, error.message);
        return true;
      },
    );
  }
});

Deno.test("decodeProxyHeader() honours maxLength for v2", () => {
  assert.throws(
    () => decodeProxyHeader(V2_TCP4, { maxLength: 27 }),
    /length 28 is above the maximum 27/,
  );
});
