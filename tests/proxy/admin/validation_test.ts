import assert from "node:assert/strict";
import { z } from "zod";
import {
  AdminInputError,
  decodePathSegment,
  inputError,
  issuesOf,
  parseDecimalId,
  rawRequestPath,
} from "../../../proxy/admin/validation.ts";

function fieldOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof AdminInputError);
    return error.field;
  }
  assert.fail("expected an AdminInputError");
}

Deno.test("decodePathSegment() decodes UTF-8 percent escapes, reserved characters included", () => {
  assert.equal(decodePathSegment("a%2Fb%3F%23%25", "handle"), "a/b?#%");
  assert.equal(decodePathSegment("%E6%B1%A0", "handle"), "池");
  assert.equal(decodePathSegment("plain.text-1", "handle"), "plain.text-1");
});

Deno.test("decodePathSegment() refuses bad escapes and non-UTF-8, naming the field", () => {
  for (const raw of ["%", "a%2", "%g0", "%%41"]) {
    assert.throws(() => decodePathSegment(raw, "handle"), {
      name: "AdminInputError",
      message: /^handle: has a '%' that is not followed by two hex digits$/,
    });
  }
  for (const raw of ["%FF", "%C3", "%ED%A0%80", "%C0%AF"]) {
    assert.equal(fieldOf(() => decodePathSegment(raw, "id")), "id");
  }
});

Deno.test("parseDecimalId() takes canonical decimal in range only", () => {
  assert.equal(parseDecimalId("1", "peId", 1, 10), 1);
  assert.equal(parseDecimalId("4294967295", "peId", 1, 0xffff_ffff), 0xffff_ffff);
  assert.equal(parseDecimalId("0", "x", 0, 1), 0);
  for (const raw of ["", "0", "11", "01", "+1", "-1", " 1", "1 ", "1e1", "0x1", "1.0", "١"]) {
    assert.throws(() => parseDecimalId(raw, "peId", 1, 10), {
      message: "peId: must be a decimal integer from 1 to 10",
    });
  }
});

Deno.test("issuesOf() names nested fields, unknown keys and missing ones", () => {
  const schema = z.strictObject({
    a: z.number(),
    nested: z.strictObject({ b: z.string() }),
    list: z.array(z.int()),
  });
  const input = { nested: { c: 1 }, list: [1, "x"] };
  const result = schema.safeParse(input);
  assert.ok(!result.success);
  assert.deepEqual(issuesOf(result.error, input), [
    { field: "a", message: "is required" },
    { field: "nested.b", message: "is required" },
    { field: "nested.c", message: "is not a known field" },
    { field: "list.1", message: "Invalid input: expected number, received string" },
  ]);
  const root = z.object({}).safeParse(null);
  assert.ok(!root.success);
  assert.equal(issuesOf(root.error, null, "handle")[0].field, "handle");
});

Deno.test("inputError() builds an AdminInputError whose message names the field", () => {
  const error = inputError("port", "must be a port");
  assert.equal(error.name, "AdminInputError");
  assert.equal(error.message, "port: must be a port");
  assert.deepEqual(error.issues, [{ field: "port", message: "must be a port" }]);
});

Deno.test("rawRequestPath() keeps percent escapes as sent", () => {
  const request = new Request("http://localhost/v1/pools/a%2Fb%25c%zz?x=1");
  assert.equal(rawRequestPath(request), "/v1/pools/a%2Fb%25c%zz");
});
