import assert from "node:assert/strict";
import {
  computeChecksum,
  foldChecksum,
  Handlespace,
  handleWordSum,
} from "../../../lib/handlespace/mod.ts";
import { element, handleOf, registerAll, seededRandom } from "./_helpers.ts";

const ECHO = handleOf("EchoPool");
const POOL1 = handleOf("Pool1");

Deno.test("computeChecksum() gives the vectors of rserpool-wire.md §6.4", () => {
  assert.equal(computeChecksum([]), 0xffff);
  assert.equal(computeChecksum([{ handle: ECHO, identifier: 0x12345678 }]), 0x29a5);
  assert.equal(
    computeChecksum([
      { handle: ECHO, identifier: 0x12345678 },
      { handle: ECHO, identifier: 0x0badcafe },
      { handle: POOL1, identifier: 0xffffffff },
    ]),
    0xf46e,
  );
});

Deno.test("checksum() gives the same vectors, whole and per owner", () => {
  const hs = new Handlespace();
  assert.equal(hs.checksum(), 0xffff);
  registerAll(hs, [element(0x12345678)], ECHO, 1);
  assert.equal(hs.checksum(), 0x29a5);
  registerAll(hs, [element(0x0badcafe)], ECHO, 2);
  registerAll(hs, [element(0xffffffff)], POOL1, 2);
  assert.equal(hs.checksum(), 0xf46e);
  assert.equal(hs.checksum(1), 0x29a5);
  assert.equal(hs.checksum(3), 0xffff);
});

Deno.test("handleWordSum() pads an odd-length handle with a zero byte", () => {
  assert.equal(handleWordSum(new Uint8Array([0x12])), 0x1200);
  assert.equal(handleWordSum(new Uint8Array([0x12, 0x34, 0x56])), 0x1234 + 0x5600);
});

Deno.test("foldChecksum() folds sums past 2^32 without losing carries", () => {
  // 70 000 blocks of 0xffff + 0xffff: the end-around carry keeps them all
  const sum = 70_000 * (0xffff + 0xffff);
  assert.ok(sum > 2 ** 32);
  let expected = 0;
  for (let i = 0; i < 140_000; i++) {
    expected += 0xffff;
    expected = (expected & 0xffff) + (expected >>> 16);
  }
  assert.equal(foldChecksum(sum), ~expected & 0xffff);
});

Deno.test("checksum() equals a from-scratch recomputation after each of 100 000 random operations", () => {
  const random = seededRandom(0x5eed);
  const pick = (n: number) => Math.floor(random() * n);
  const handles = [ECHO, POOL1, handleOf("P"), handleOf("Longer pool handle")];
  const registrars = [1, 2, 3, 0xfffffffe];
  const identifiers = [1, 2, 3, 0xffff, 0x10000, 0x12345678, 0x0badcafe, 0xffffffff];
  interface Entry {
    handle: Uint8Array;
    identifier: number;
    home: number;
    expiry: number;
  }
  const model = new Map<string, Entry>();
  const hs = new Handlespace({ random: seededRandom(1) });
  let now = 0;
  for (let step = 0; step < 100_000; step++) {
    const handle = handles[pick(handles.length)]!;
    const identifier = identifiers[pick(identifiers.length)]!;
    const key = `${handle.join()}/${identifier}`;
    const op = pick(100);
    if (op < 55) {
      const home = registrars[pick(registrars.length)]!;
      const life = pick(10) === 0 ? -1 : 50 + pick(500);
      const result = hs.register(
        handle,
        element(identifier, undefined, { registrationLife: life }),
        home,
        now,
      );
      assert.equal(result.ok, true);
      model.set(key, { handle, identifier, home, expiry: life < 0 ? Infinity : now + life });
    } else if (op < 85) {
      assert.equal(hs.deregister(handle, identifier), model.delete(key));
    } else if (op < 92) {
      now += pick(40);
      const expired = hs.expire(now);
      let due = 0;
      for (const [k, e] of model) if (e.expiry <= now) model.delete(k), due++;
      assert.equal(expired.length, due);
    } else if (op < 97) {
      const from = registrars[pick(registrars.length)]!;
      const to = registrars[pick(registrars.length)]!;
      hs.rehome(from, to);
      for (const e of model.values()) if (e.home === from) e.home = to;
    } else {
      const home = registrars[pick(registrars.length)]!;
      hs.removeByHome(home);
      for (const [k, e] of model) if (e.home === home) model.delete(k);
    }
    const entries = [...model.values()];
    assert.equal(hs.elementCount, entries.length);
    assert.equal(hs.checksum(), computeChecksum(entries), `step ${step}`);
    const home = registrars[step % registrars.length]!;
    assert.equal(
      hs.checksum(home),
      computeChecksum(entries.filter((e) => e.home === home)),
      `step ${step}, registrar ${home}`,
    );
  }
});
