import assert from "node:assert/strict";
import { type Browser, chromium, type Page, type Response } from "playwright-core";
import { createAdminApp } from "../../../proxy/admin/admin_app.ts";
import type { NewStaticMember } from "../../../proxy/admin/admin_backend.ts";
import { type AdminServer, startAdminServer } from "../../../proxy/admin/admin_server.ts";
import { createDashboardPage } from "../../../proxy/admin/dashboard.ts";
import { AdminBackendFixture } from "../../_support/admin_backend_fixture.ts";
import { needsPrograms } from "../../_support/external_program.ts";

const TOKEN = "dashboard-test-token";
/** Debian's chromium, driven by playwright-core. */
const CHROMIUM = "/usr/bin/chromium";
/** Flags for a machine without network: no first run, default apps, updates or sync. */
const CHROMIUM_ARGS = [
  ...(Deno.uid() === 0 ? ["--no-sandbox"] : []),
  "--headless=new",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--no-first-run",
  "--no-default-browser-check",
  "--disable-default-apps",
  "--disable-component-update",
  "--disable-background-networking",
  "--disable-sync",
];
/** How long the page may take to show what a test waits for; it refreshes every second. */
const WAIT_MS = 15_000;
const SCREENSHOT = new URL("../../artifacts/dashboard.png", import.meta.url);

function urlOf(server: AdminServer, path: string): string {
  return `http://127.0.0.1:${server.addr.port}${path}`;
}

/** Sends a JSON request to the admin API, as an operator's script would; returns the status. */
async function callApi(
  server: AdminServer,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<number> {
  const response = await fetch(urlOf(server, path), {
    method,
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  await response.body?.cancel();
  return response.status;
}

/** A browser showing one page at 1280×800, and every console error or page error it saw. */
interface Dashboard extends AsyncDisposable {
  readonly page: Page;
  /** Console errors and warnings, uncaught exceptions and failed requests, in order. */
  readonly problems: string[];
}

async function openDashboard(url: string): Promise<Dashboard> {
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const problems: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error" || message.type() === "warning") {
        problems.push(`console ${message.type()}: ${message.text()}`);
      }
    });
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("requestfailed", (request) => {
      problems.push(`request failed: ${request.method()} ${request.url()}`);
    });
    await page.goto(url);
    return { page, problems, [Symbol.asyncDispose]: () => browser.close() };
  } catch (error) {
    await browser.close();
    throw error;
  }
}

/** The row of one member in the page. */
function memberRow(page: Page, pool: string, peId: number) {
  return page.locator(`tr[data-pool="${pool}"][data-pe-id="${peId}"]`);
}

/** Waits until the member's row shows `state`, as text. */
async function waitForState(page: Page, pool: string, peId: number, state: string) {
  await memberRow(page, pool, peId).locator(".state", { hasText: state }).waitFor({
    timeout: WAIT_MS,
  });
}

/** Clicks `button` and waits for the page's `method` request to `path` to be answered. */
async function clickAndAwait(
  page: Page,
  button: ReturnType<Page["locator"]>,
  method: string,
  path: string,
): Promise<Response> {
  const [response] = await Promise.all([
    page.waitForResponse(
      (response) =>
        response.request().method() === method && new URL(response.url()).pathname === path,
      { timeout: WAIT_MS },
    ),
    button.click(),
  ]);
  return response;
}

/** Adds a static member as the API would, checked by connect unless `check` says otherwise. */
function addStatic(
  backend: AdminBackendFixture,
  pool: string,
  member: Omit<NewStaticMember, "check"> & Partial<Pick<NewStaticMember, "check">>,
) {
  return backend.addMember(pool, { check: { kind: "connect" }, ...member });
}

async function stateOf(backend: AdminBackendFixture, pool: string, peId: number) {
  return (await backend.getPool(pool)).members.find((member) => member.peId === peId)?.state;
}

Deno.test("createDashboardPage() inlines its script and style and allows only them by hash", async () => {
  for (const tokenRequired of [true, false]) {
    const { html, headers } = await createDashboardPage({ tokenRequired });
    assert.match(
      html,
      new RegExp(`<html lang="en" data-auth="${tokenRequired ? "bearer" : "none"}">`),
    );
    const script = /<script type="module">([\s\S]*?)<\/script>/.exec(html)?.[1];
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1];
    assert.ok(script !== undefined && script.includes("sessionStorage"), "the script is inline");
    assert.ok(style !== undefined && style.includes(".state-draining"), "the style is inline");
    // Nothing is loaded from elsewhere: no src, and the one href is the empty data: icon.
    assert.doesNotMatch(html, /\ssrc=/);
    assert.deepEqual([...html.matchAll(/\shref="([^"]*)"/g)].map((match) => match[1]), ["data:,"]);
    const policy = headers["content-security-policy"] ?? "";
    const sha256 = async (text: string) =>
      btoa(String.fromCharCode(
        ...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))),
      ));
    assert.match(policy, /^default-src 'none'; /);
    assert.ok(policy.includes(`script-src 'sha256-${await sha256(script)}';`), policy);
    assert.ok(policy.includes(`style-src 'sha256-${await sha256(style)}';`), policy);
    assert.ok(policy.includes("connect-src 'self';"), policy);
    assert.ok(policy.includes("frame-ancestors 'none'"), policy);
    assert.equal(headers["content-type"], "text/html; charset=utf-8");
    assert.equal(headers["x-content-type-options"], "nosniff");
  }
});

Deno.test("createAdminApp() serves GET / without the token and with no data in it", async () => {
  const backend = new AdminBackendFixture();
  await addStatic(backend, "secret-pool", {
    hostname: "secret-host.example",
    port: 8080,
    policy: { name: "rr" },
  });
  const app = createAdminApp({ backend, token: TOKEN });
  const page = await app.request("/");
  assert.equal(page.status, 200);
  assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
  assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'sha256-/);
  const html = await page.text();
  assert.match(html, /data-auth="bearer"/);
  assert.doesNotMatch(html, /secret-pool|secret-host/);
  const head = await app.request("/", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), "");
  // The data stays behind the token.
  const pools = await app.request("/v1/pools");
  assert.equal(pools.status, 401);
  await pools.body?.cancel();
  assert.equal((await app.request("/", { method: "POST" })).status, 405);
  const open = await createAdminApp({ backend }).request("/");
  assert.match(await open.text(), /data-auth="none"/);
});

Deno.test({
  name: "GET / dashboard asks for the token once, then shows members added and drained through " +
    "the API as they change",
  ...needsPrograms("chromium"),
  async fn() {
    const backend = new AdminBackendFixture();
    await using server = startAdminServer({ backend, token: TOKEN, port: 0 });
    await using dashboard = await openDashboard(urlOf(server, "/"));
    const { page, problems } = dashboard;

    const tokenInput = page.getByLabel("Token", { exact: true });
    await tokenInput.waitFor({ timeout: WAIT_MS });
    await tokenInput.fill(TOKEN);
    await page.getByRole("button", { name: "Use token" }).click();
    await page.getByText("No pools yet").waitFor({ timeout: WAIT_MS });

    const member = { hostname: "10.0.0.1", port: 8080, peId: 12, policy: { name: "rr" } };
    assert.equal(await callApi(server, "POST", "/v1/pools/web/members", member, TOKEN), 201);
    await waitForState(page, "web", 12, "active");
    const row = memberRow(page, "web", 12);
    assert.match(await row.innerText(), /10\.0\.0\.1:8080/);

    const drain = { drain: true };
    assert.equal(await callApi(server, "PATCH", "/v1/pools/web/members/12", drain, TOKEN), 200);
    await waitForState(page, "web", 12, "draining");
    await row.getByRole("button", { name: "Restore pool element 12 of pool web" }).waitFor();

    // The token is kept for the tab: a reload shows the pool without asking again.
    await page.reload();
    await waitForState(page, "web", 12, "draining");
    assert.equal(await tokenInput.isVisible(), false);
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name: "GET / dashboard drops a token the API refuses and asks for it again",
  ...needsPrograms("chromium"),
  async fn() {
    const backend = new AdminBackendFixture();
    await using server = startAdminServer({ backend, token: TOKEN, port: 0 });
    await using dashboard = await openDashboard(urlOf(server, "/"));
    const { page, problems } = dashboard;

    const tokenInput = page.getByLabel("Token", { exact: true });
    await tokenInput.fill("not the token");
    await page.getByRole("button", { name: "Use token" }).click();
    await page.getByText("visible ASCII characters without spaces").waitFor({ timeout: WAIT_MS });
    await tokenInput.fill(`wrong-${TOKEN}`);
    await page.getByRole("button", { name: "Use token" }).click();
    await page.getByText("The admin API refused the token").waitFor({ timeout: WAIT_MS });
    assert.equal(await page.evaluate("sessionStorage.length"), 0);
    await tokenInput.fill(TOKEN);
    await page.getByRole("button", { name: "Use token" }).click();
    await page.getByText("No pools yet").waitFor({ timeout: WAIT_MS });

    // Chromium logs each 401 answer itself; the page adds no error of its own.
    const refused = /^console error: Failed to load resource: .* 401 \(Unauthorized\)$/;
    assert.ok(problems.some((problem) => refused.test(problem)), problems.join("\n"));
    assert.deepEqual(problems.filter((problem) => !refused.test(problem)), []);
  },
});

Deno.test({
  name: "GET / dashboard drains, restores and removes a member, each click reaching the API",
  ...needsPrograms("chromium"),
  async fn() {
    const backend = new AdminBackendFixture();
    for (const peId of [1, 2]) {
      await addStatic(backend, "web", {
        hostname: `10.0.0.${peId}`,
        port: 80,
        peId,
        policy: { name: "rr" },
      });
    }
    backend.registerOverAsap("web", {
      peId: 3,
      addresses: ["fd00::3"],
      port: 9000,
      transportUse: "data-plus-control",
      policy: { name: "rr" },
    });
    // Without a token the API is on loopback only, and the page asks for none.
    await using server = startAdminServer({ backend, port: 0 });
    await using dashboard = await openDashboard(urlOf(server, "/"));
    const { page, problems } = dashboard;
    await waitForState(page, "web", 1, "active");
    const row = memberRow(page, "web", 1);

    const drained = await clickAndAwait(
      page,
      row.getByRole("button", { name: "Drain pool element 1 of pool web" }),
      "PATCH",
      "/v1/pools/web/members/1",
    );
    assert.equal(drained.status(), 200);
    assert.deepEqual(drained.request().postDataJSON(), { drain: true });
    assert.equal(await stateOf(backend, "web", 1), "draining");
    await waitForState(page, "web", 1, "draining");
    await page.getByText("Pool element 1 of pool web is draining.").waitFor({ timeout: WAIT_MS });

    // Restore also takes a member out of maintenance.
    await backend.patchMember("web", 1, { maintenance: true });
    await waitForState(page, "web", 1, "maintenance");
    const restored = await clickAndAwait(
      page,
      row.getByRole("button", { name: "Restore pool element 1 of pool web" }),
      "PATCH",
      "/v1/pools/web/members/1",
    );
    assert.equal(restored.status(), 200);
    assert.equal(await stateOf(backend, "web", 1), "active");
    await waitForState(page, "web", 1, "active");

    // Removing asks once more, and Cancel keeps the member.
    const row2 = memberRow(page, "web", 2);
    await row2.getByRole("button", { name: "Remove pool element 2 of pool web" }).click();
    await row2.getByRole("button", { name: "Keep pool element 2 of pool web" }).click();
    await row2.getByRole("button", { name: "Remove pool element 2 of pool web" }).click();
    const removed = await clickAndAwait(
      page,
      row2.getByRole("button", { name: "Remove pool element 2 of pool web now" }),
      "DELETE",
      "/v1/pools/web/members/2",
    );
    assert.equal(removed.status(), 204);
    assert.equal(await stateOf(backend, "web", 2), undefined);
    await row2.waitFor({ state: "detached", timeout: WAIT_MS });

    // A PE that registered over ASAP deregisters itself: the page offers no Remove for it.
    const asapRow = memberRow(page, "web", 3);
    assert.equal(await asapRow.getByRole("button", { name: /^Remove/ }).count(), 0);
    assert.match(await asapRow.innerText(), /ASAP-owned/);
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name: "GET / dashboard shows every state in words, sessions and failovers, and fits 1280×800",
  ...needsPrograms("chromium"),
  async fn() {
    const backend = new AdminBackendFixture();
    // Start the fixture's clock at the real time, so that failover times read as today's.
    backend.nowMs = Date.now() - 3_600_000;
    const web = (peId: number, weight: number) => ({
      hostname: `10.0.0.${peId}`,
      port: 8080,
      peId,
      policy: { name: "wrr", weight } as const,
    });
    for (const [peId, weight] of [[11, 3], [12, 3], [13, 1]] as const) {
      await addStatic(backend, "web", web(peId, weight));
    }
    backend.registerOverAsap("web", {
      peId: 21,
      addresses: ["fd00::21"],
      port: 9000,
      transportUse: "data-plus-control",
      policy: { name: "wrr", weight: 5 },
    });
    for (const [peId, load] of [[31, 35], [32, 72], [33, 91]] as const) {
      await addStatic(backend, "db/primary", {
        hostname: `db${peId}.internal`,
        port: 5432,
        peId,
        policy: { name: "lu", load },
        check: { kind: "send-expect", send: "PING\\r\\n", expect: "PONG" },
      });
    }
    await backend.patchMember("web", 12, { drain: true });
    backend.setDown("web", 13, true);
    await backend.patchMember("db/primary", 33, { maintenance: true });
    const clients = [
      ["web", "198.51.100.7:51234", 11],
      ["web", "[2001:db8::42]:40022", 21],
      ["web", "203.0.113.9:60001", 11],
      ["db/primary", "10.1.0.5:33012", 31],
      ["db/primary", "10.1.0.6:33013", 32],
    ] as const;
    const sessions = clients.map(([pool, client, peId], index) => {
      const session = backend.openSession(pool, client, peId);
      backend.forward(session.id, 1_000 * 7 ** index, 50_000 * 5 ** index);
      backend.nowMs += 1_000_000 / (index + 1);
      return session;
    });
    backend.failSession(sessions[0]!.id, "reset");
    backend.nowMs += 4_000;
    backend.failSession(sessions[3]!.id, "dead-fin");
    backend.nowMs += 9_000;
    await backend.failoverSession(sessions[2]!.id);
    backend.nowMs += 2_000;
    await backend.deleteMember("web", 13);
    await addStatic(backend, "web", web(13, 1));
    backend.setDown("web", 13, true);

    await using server = startAdminServer({ backend, port: 0 });
    await using dashboard = await openDashboard(urlOf(server, "/"));
    const { page, problems } = dashboard;
    await waitForState(page, "db/primary", 33, "maintenance");
    for (
      const [pool, peId, state] of [
        ["web", 11, "active"],
        ["web", 12, "draining"],
        ["web", 13, "down"],
        ["web", 21, "active"],
      ] as const
    ) {
      await waitForState(page, pool, peId, state);
    }
    const sessionRows = page.locator("#sessions tbody tr");
    await sessionRows.nth(sessions.length - 1).waitFor({ timeout: WAIT_MS });
    assert.equal(await sessionRows.count(), sessions.length);
    const failoverRows = page.locator("#failovers tbody tr");
    await failoverRows.nth(2).waitFor({ timeout: WAIT_MS });
    assert.deepEqual(
      (await failoverRows.allInnerTexts()).map((text) => text.split("\t").slice(1).join(" | ")),
      [
        `${sessions[2]!.id} | web | 11 → 21 | operator`,
        `${sessions[3]!.id} | db/primary | 31 → 32 | PE died`,
        `${sessions[0]!.id} | web | 11 → 21 | reset`,
      ],
    );
    assert.match(await memberRow(page, "db/primary", 32).innerText(), /72 %/);

    // Readable at a glance: no table wider than its box, and a picture to look at. The
    // expression is a string as it runs in the page, where the DOM is.
    const clipped = await page.evaluate(`
      [document.documentElement, ...document.querySelectorAll(".pool, .table-scroll, .scroll")]
        .filter((box) => box.scrollWidth > box.clientWidth)
        .map((box) => box.id || box.className)`);
    assert.deepEqual(clipped, []);
    await Deno.mkdir(new URL(".", SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT.pathname });
    assert.deepEqual(problems, []);
  },
});
