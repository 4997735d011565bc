import assert from "node:assert/strict";
import { createAdminApp, OPEN_ADMIN_PATHS } from "../../../proxy/admin/admin_app.ts";
import { ADMIN_OPERATIONS, createOpenApiDocument } from "../../../proxy/admin/openapi.ts";
import { AdminBackendFixture } from "../../_support/admin_backend_fixture.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function documentOf(): { [key: string]: Json } {
  // Through JSON, as a client sees it: nothing that JSON cannot carry survives.
  return JSON.parse(JSON.stringify(createOpenApiDocument()));
}

function object(value: Json | undefined, what: string): { [key: string]: Json } {
  assert.ok(typeof value === "object" && value !== null && !Array.isArray(value), what);
  return value;
}

/** Every `$ref` anywhere in `value`. */
function refsIn(value: Json, found: string[] = []): string[] {
  if (Array.isArray(value)) { for (const item of value) refsIn(item, found); }
  else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (key === "$ref" && typeof item === "string") found.push(item);
      else refsIn(item, found);
    }
  }
  return found;
}

/** The app's routes as "METHOD /openapi/{template}". */
function appRoutes(): Set<string> {
  const app = createAdminApp({ backend: new AdminBackendFixture() });
  return new Set(
    app.routes
      .filter((route) => route.method !== "ALL")
      .map((route) => `${route.method} ${route.path.replaceAll(/:(\w+)/g, "{$1}")}`),
  );
}

Deno.test("createOpenApiDocument() is an OpenAPI 3.1 document in JSON", () => {
  const document = documentOf();
  assert.match(String(document.openapi), /^3\.1\.\d+$/);
  const info = object(document.info, "info");
  assert.equal(typeof info.title, "string");
  assert.equal(typeof info.version, "string");
  assert.equal(document.jsonSchemaDialect, "https://json-schema.org/draft/2020-12/schema");
  const schemes = object(object(document.components, "components").securitySchemes, "schemes");
  assert.deepEqual(schemes.bearerAuth, { type: "http", scheme: "bearer" });
});

Deno.test("createOpenApiDocument() has every route of the app, and no other", () => {
  const documented = new Set<string>();
  for (const [path, item] of Object.entries(object(documentOf().paths, "paths"))) {
    for (const method of Object.keys(object(item, path))) {
      documented.add(`${method.toUpperCase()} ${path}`);
    }
  }
  assert.deepEqual([...documented].sort(), [...appRoutes()].sort());
  assert.ok(documented.size >= 19);
});

Deno.test("createOpenApiDocument() declares each path parameter and a unique operationId", () => {
  const ids = new Set<string>();
  for (const [path, item] of Object.entries(object(documentOf().paths, "paths"))) {
    const templated = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();
    for (const [method, value] of Object.entries(object(item, path))) {
      const operation = object(value, `${method} ${path}`);
      const id = String(operation.operationId);
      assert.ok(!ids.has(id), `operationId ${id} twice`);
      ids.add(id);
      const parameters = (operation.parameters ?? []) as { name: string; in: string }[];
      assert.deepEqual(parameters.map((parameter) => parameter.name).sort(), templated, id);
      assert.ok(parameters.every((parameter) => parameter.in === "path"));
    }
  }
});

Deno.test("createOpenApiDocument() resolves every $ref to a component schema", () => {
  const document = documentOf();
  const schemas = object(object(document.components, "components").schemas, "schemas");
  const refs = refsIn(document);
  assert.ok(refs.length > 30);
  for (const ref of refs) {
    const name = ref.replace("#/components/schemas/", "");
    assert.ok(ref.startsWith("#/components/schemas/") && name in schemas, ref);
  }
  // Each schema is plain JSON Schema 2020-12 without a dialect of its own.
  for (const [name, schema] of Object.entries(schemas)) {
    assert.equal(object(schema, name).$schema, undefined, name);
  }
});

Deno.test("createOpenApiDocument() derives request bodies from the zod schemas", () => {
  const schemas = object(
    object(documentOf().components, "components").schemas,
    "schemas",
  );
  const addMember = object(schemas.AddMemberRequest, "AddMemberRequest");
  assert.equal(addMember.additionalProperties, false);
  assert.deepEqual(addMember.required, ["hostname", "port", "policy"]);
  const properties = object(addMember.properties, "properties");
  assert.deepEqual(object(properties.port, "port"), {
    type: "integer",
    minimum: 1,
    maximum: 65535,
  });
  const listener = object(object(schemas.AddListenerRequest, "listener").properties, "props");
  assert.deepEqual(object(listener.kind, "kind").enum, ["tcp", "tls", "http"]);
  const patchPool = object(object(schemas.PatchPoolRequest, "patch").properties, "props");
  assert.deepEqual(
    Object.keys(patchPool).sort(),
    [
      "connectTimeoutMs",
      "failover",
      "idleTimeoutMs",
      "maxFailovers",
      "policy",
      "proxyProtocol",
      "replayBufferBytes",
    ],
  );
});

Deno.test("createOpenApiDocument() marks the probes open and the rest as needing the token", () => {
  const paths = object(documentOf().paths, "paths");
  for (const operation of ADMIN_OPERATIONS) {
    const documented = object(
      object(paths[operation.path], operation.path)[operation.method],
      "op",
    );
    const responses = object(documented.responses, "responses");
    if (OPEN_ADMIN_PATHS.includes(operation.path)) {
      assert.deepEqual(documented.security, [], operation.path);
      assert.equal(responses["401"], undefined, operation.path);
    } else {
      assert.equal(documented.security, undefined, operation.path);
      assert.ok(responses["401"] !== undefined, operation.path);
    }
    if (operation.body !== undefined) {
      for (const status of ["400", "413", "415"]) assert.ok(responses[status], status);
    }
  }
});

Deno.test("GET /openapi.json serves the document as JSON", async () => {
  const app = createAdminApp({ backend: new AdminBackendFixture() });
  const response = await app.request("/openapi.json");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.deepEqual(await response.json(), documentOf());
});
