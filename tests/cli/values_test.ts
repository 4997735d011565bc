import assert from "node:assert/strict";
import {
  formatDuration,
  formatHostPort,
  integerIn,
  oneOf,
  parseDuration,
  parseHostPort,
} from "../../cli/values.ts";

Deno.test("parseHostPort() reads IPv4, names, bracketed IPv6 and bare ports", () => {
  assert.deepEqual(parseHostPort("127.0.0.1:3863"), { hostname: "127.0.0.1", port: 3863 });
  assert.deepEqual(parseHostPort("pool.example:80"), { hostname: "pool.example", port: 80 });
  assert.deepEqual(parseHostPort("[::1]:9901"), { hostname: "::1", port: 9901 });
  assert.deepEqual(parseHostPort("8000", "127.0.0.1"), { hostname: "127.0.0.1", port: 8000 });
  assert.deepEqual(parseHostPort(":8000", "0.0.0.0"), { hostname: "0.0.0.0", port: 8000 });
  for (const bad of ["8000", "h:", "h:65536", "h:-1", "::1:80", "h:8x"]) {
    assert.throws(() => parseHostPort(bad), RangeError, bad);
  }
  assert.equal(formatHostPort({ hostname: "::1", port: 1 }), "[::1]:1");
});

Deno.test("parseDuration() needs a unit and round-trips through formatDuration()", () => {
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("2s"), 2000);
  assert.equal(parseDuration("1.5m"), 90_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  for (const bad of ["250", "s", "-1s", "1d", ""]) {
    assert.throws(() => parseDuration(bad), RangeError);
  }
  for (const ms of [0, 1, 250, 1000, 1500, 60_000, 3_600_000]) {
    assert.equal(parseDuration(formatDuration(ms)), ms);
  }
});

Deno.test("integerIn() and oneOf() say what they expected", () => {
  assert.equal(integerIn(1, 10)("10"), 10);
  assert.throws(() => integerIn(1, 10)("11"), /from 1 to 10/);
  assert.throws(() => integerIn(1, 10)("1.5"), /whole number/);
  assert.equal(oneOf(["a", "b"])("b"), "b");
  assert.throws(() => oneOf(["a", "b"])("c"), /one of a, b/);
});
