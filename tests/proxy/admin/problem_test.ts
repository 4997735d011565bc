import assert from "node:assert/strict";
import {
  PROBLEM_CONTENT_TYPE,
  problemResponse,
  ProblemType,
  statusTitle,
} from "../../../proxy/admin/problem.ts";

Deno.test("problemResponse() writes an RFC 9457 body with type and title first", async () => {
  const response = problemResponse({ status: 404, detail: 'There is no pool "x"' }, {
    "x-extra": "1",
  });
  assert.equal(response.status, 404);
  assert.equal(response.headers.get("content-type"), PROBLEM_CONTENT_TYPE);
  assert.equal(response.headers.get("x-extra"), "1");
  const text = await response.text();
  assert.equal(
    text,
    '{"type":"about:blank","title":"Not Found","status":404,"detail":"There is no pool \\"x\\""}',
  );
});

Deno.test("problemResponse() keeps a given type, title and extension members", async () => {
  const response = problemResponse({
    type: ProblemType.registrarRefused,
    status: 409,
    detail: "refused",
    cause: 5,
    causeName: "Inconsistent Pooling Policy",
  });
  assert.deepEqual(await response.json(), {
    type: "urn:poolgate:problem:registrar-refused",
    title: "Conflict",
    status: 409,
    detail: "refused",
    cause: 5,
    causeName: "Inconsistent Pooling Policy",
  });
});

Deno.test("statusTitle() gives RFC 9110 reason phrases", () => {
  assert.equal(statusTitle(413), "Content Too Large");
  assert.equal(statusTitle(405), "Method Not Allowed");
  assert.equal(statusTitle(418), "HTTP 418");
});
