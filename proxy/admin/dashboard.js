/**
 * The dashboard's script (docs/dashboard.md), inlined into GET / by dashboard.ts. It reads the
 * admin API every second and shows pools, their members, sessions and recent failovers, and it
 * drains, restores and removes members. Every element is built with `textContent`, never HTML
 * from data. The bearer token, when the API needs one, is asked for once and kept in this tab's
 * sessionStorage. The JSDoc types document it; it is not type-checked, since the DOM library
 * it would need applies to every file `deno check .` checks with it.
 */

/** Time between the end of one refresh and the start of the next. */
const POLL_INTERVAL_MS = 1000;
/** The sessionStorage key of the bearer token. */
const TOKEN_KEY = "poolgate-admin-token";
/** Sessions shown at most; the count says how many more there are. */
const MAX_SESSION_ROWS = 200;
/** What a bearer token may hold (proxy/admin/bearer_auth.ts `checkAdminToken`). */
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

/**
 * @typedef {"active" | "draining" | "maintenance" | "down"} MemberState
 * @typedef {{ name: string, weight?: number, priority?: number, load?: number,
 *   loadDegradation?: number }} MemberPolicy
 * @typedef {{ peId: number, addresses: string[], port: number, transportUse: string,
 *   policy: MemberPolicy, state: MemberState, static: boolean, sessions: number,
 *   failovers: number }} Member
 * @typedef {{ handle: string, policy: string, sessions: number, members: Member[],
 *   settings: { failover: string } }} Pool
 * @typedef {{ id: number, client: string, pool: string, peId: number | null, bytesIn: number,
 *   bytesOut: number, failovers: number, ageMs: number }} Session
 * @typedef {{ at: string, sessionId: number, pool: string, fromPeId: number,
 *   toPeId: number | null, cause: string }} Failover
 * @typedef {{ pools: Pool[], sessions: Session[], failovers: Failover[] }} Snapshot
 * @typedef {"drain" | "restore" | "remove"} MemberAction
 */

/** How each member state is shown: a glyph and a word, so colour is never the only sign. */
const STATE_GLYPHS = /** @type {const} */ ({
  active: "●",
  draining: "◐",
  maintenance: "■",
  down: "✖",
});

/** Failover causes (proxy/proxy_events.ts `FailoverCause`) in words. */
const CAUSE_LABELS = /** @type {Readonly<Record<string, string>>} */ ({
  "connect-refused": "connect refused",
  "connect-failed": "connect failed",
  "reset": "reset",
  "dead-fin": "PE died",
  "removed": "PE removed",
  "protocol-error": "protocol error",
  "admin": "operator",
});

/** The admin API refused the token (401). */
class AuthError extends Error {
  constructor() {
    super("The admin API refused the token");
    this.name = "AuthError";
  }
}

/** The admin API answered with an error; `message` is its problem detail. */
class ApiError extends Error {
  /**
   * @param {string} message
   * @param {number} status
   */
  constructor(message, status) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
function byId(id) {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`The page has no element #${id}`);
  return element;
}

const view = {
  connection: byId("connection"),
  forgetToken: byId("forget-token"),
  tokenForm: /** @type {HTMLFormElement} */ (byId("token-form")),
  tokenInput: /** @type {HTMLInputElement} */ (byId("token")),
  tokenError: byId("token-error"),
  live: byId("live"),
  notice: byId("notice"),
  pools: byId("pools"),
  poolsSummary: byId("pools-summary"),
  sessions: byId("sessions"),
  sessionsSummary: byId("sessions-summary"),
  failovers: byId("failovers"),
  failoversSummary: byId("failovers-summary"),
};

/** Set by dashboard.ts when the API was started with a token. */
const tokenRequired = document.documentElement.dataset.auth === "bearer";

const ui = {
  /** @type {Snapshot | undefined} */
  snapshot: undefined,
  /** The member whose removal waits for a second click, as `memberKey()`. */
  /** @type {string | undefined} */
  confirming: undefined,
  /** Members with a request on its way, as `memberKey()`. */
  /** @type {Set<string>} */
  busy: new Set(),
  /** Whether the refresh loop runs. */
  running: false,
  /** Counts starts and stops, so that a refresh still on its way from before ends its loop. */
  loop: 0,
  /** Whether the loop stopped for a hidden tab, to go on once it shows again. */
  paused: false,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  timer: undefined,
  /** The last rendering of each container, to leave unchanged ones alone. */
  /** @type {Map<HTMLElement, string>} */
  rendered: new Map(),
};

// ─── Admin API ───

/** Requests run one at a time, so an action never races a refresh of the same data. */
let queue = Promise.resolve();

/**
 * Runs `work` after the requests queued before it.
 * @template T
 * @param {() => Promise<T>} work
 * @returns {Promise<T>}
 */
function serially(work) {
  const run = queue.then(work);
  queue = run.then(() => {}, () => {});
  return run;
}

/**
 * @param {Response} response
 * @returns {Promise<string>} the problem's detail, or the status line.
 */
async function problemDetail(response) {
  try {
    const problem = await response.json();
    if (typeof problem?.detail === "string") return problem.detail;
  } catch {
    // Not a problem body: the status line says enough.
  }
  return `${response.status} ${response.statusText}`.trim();
}

/**
 * Sends one request to the admin API, with the token when there is one.
 * @param {string} method
 * @param {string} path relative to the page, so a reverse proxy may mount it under a prefix
 * @param {unknown} [body]
 * @returns {Promise<any>} the JSON body, undefined for 204
 * @throws {AuthError | ApiError}
 */
async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token !== null) headers.authorization = `Bearer ${token}`;
  /** @type {RequestInit} */
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    // Read, not cancelled: a cancelled body shows as a failed request in the browser.
    await response.text();
    throw new AuthError();
  }
  if (!response.ok) throw new ApiError(await problemDetail(response), response.status);
  if (response.status === 204) return undefined;
  return await response.json();
}

/**
 * @param {string} handle
 * @returns {string}
 */
function poolPath(handle) {
  return `v1/pools/${encodeURIComponent(handle)}`;
}

/** @returns {Promise<Snapshot>} */
async function fetchSnapshot() {
  const [poolList, sessionList, failoverList] = await Promise.all([
    api("GET", "v1/pools"),
    api("GET", "v1/sessions"),
    api("GET", "v1/failovers"),
  ]);
  /** @type {{ handle: string }[]} */
  const summaries = poolList.pools;
  const pools = await Promise.all(summaries.map(async (summary) => {
    try {
      return /** @type {Pool} */ (await api("GET", poolPath(summary.handle)));
    } catch (error) {
      // Its last member left since the list was read.
      if (error instanceof ApiError && error.status === 404) return undefined;
      throw error;
    }
  }));
  return {
    pools: pools.filter((pool) => pool !== undefined),
    sessions: sessionList.sessions,
    failovers: failoverList.failovers,
  };
}

// ─── Formatting ───

/**
 * @param {number} value
 * @returns {string}
 */
function twoDigits(value) {
  return String(value).padStart(2, "0");
}

/**
 * Local time of day.
 * @param {Date} date
 * @returns {string}
 */
function formatTime(date) {
  return `${twoDigits(date.getHours())}:${twoDigits(date.getMinutes())}:` +
    twoDigits(date.getSeconds());
}

/**
 * Local date, or undefined when it is today.
 * @param {Date} date
 * @returns {string | undefined}
 */
function formatDay(date) {
  if (date.toDateString() === new Date().toDateString()) return undefined;
  return `${date.getFullYear()}-${twoDigits(date.getMonth() + 1)}-${twoDigits(date.getDate())}`;
}

/**
 * @param {number} ms
 * @returns {string}
 */
function formatAge(ms) {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/**
 * @param {number} bytes
 * @returns {string}
 */
function formatBytes(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/**
 * `host:port`, with brackets around an IPv6 address.
 * @param {string} host
 * @param {number} port
 * @returns {string}
 */
function formatAddress(host, port) {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The policy and the value it selects by, besides load (which has its own column).
 * @param {MemberPolicy} policy
 * @returns {string}
 */
function formatPolicy(policy) {
  const parts = [policy.name];
  if (policy.weight !== undefined) parts.push(`weight ${policy.weight}`);
  if (policy.priority !== undefined) parts.push(`priority ${policy.priority}`);
  if (policy.loadDegradation !== undefined) parts.push(`degradation ${policy.loadDegradation} %`);
  return parts.join(" · ");
}

/**
 * @param {number} count
 * @param {string} one
 * @param {string} [many]
 * @returns {string}
 */
function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

// ─── Elements ───

/**
 * An element with attributes (false and undefined ones left out) and children; strings become
 * text nodes.
 * @param {string} tag
 * @param {Record<string, string | number | boolean | undefined>} [attributes]
 * @param {...(Node | string)} children
 * @returns {HTMLElement}
 */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children);
  return element;
}

/**
 * A table with a header row and `rows`.
 * @param {string} label what the table lists, for screen readers
 * @param {string[]} columns
 * @param {HTMLElement[]} rows
 * @returns {HTMLElement}
 */
function table(label, columns, rows) {
  return h(
    "table",
    { "aria-label": label },
    h("thead", {}, h("tr", {}, ...columns.map((column) => h("th", { scope: "col" }, column)))),
    h("tbody", {}, ...rows),
  );
}

/**
 * @param {string} text
 * @returns {HTMLElement}
 */
function empty(text) {
  return h("p", { class: "empty" }, text);
}

/**
 * A member state as a glyph and a word.
 * @param {MemberState} state
 * @returns {HTMLElement}
 */
function stateBadge(state) {
  return h(
    "span",
    { class: `state state-${state}` },
    h("span", { class: "glyph", "aria-hidden": "true" }, STATE_GLYPHS[state] ?? "?"),
    ` ${state}`,
  );
}

/**
 * @param {string} handle
 * @param {number} peId
 * @returns {string}
 */
function memberKey(handle, peId) {
  return JSON.stringify([handle, peId]);
}

/**
 * A button that acts on one member; its `data-focus` survives re-rendering.
 * @param {MemberAction | "confirm-remove" | "cancel-remove"} action
 * @param {string} text
 * @param {string} label
 * @param {string} handle
 * @param {Member} member
 * @param {string} slot
 * @returns {HTMLElement}
 */
function memberButton(action, text, label, handle, member, slot) {
  const busy = ui.busy.has(memberKey(handle, member.peId));
  return h("button", {
    type: "button",
    class: action === "remove" || action === "confirm-remove" ? "danger" : undefined,
    "data-action": action,
    "data-pool": handle,
    "data-pe-id": member.peId,
    "data-focus": `${memberKey(handle, member.peId)}:${slot}`,
    "aria-label": label,
    disabled: busy,
    "aria-busy": busy ? "true" : undefined,
  }, text);
}

/**
 * @param {string} handle
 * @param {Member} member
 * @returns {HTMLElement}
 */
function memberActions(handle, member) {
  const name = `pool element ${member.peId} of pool ${handle}`;
  if (ui.confirming === memberKey(handle, member.peId)) {
    return h(
      "div",
      { class: "actions", role: "group", "aria-label": `Confirm removal of ${name}` },
      h("span", { class: "confirm" }, `Remove PE ${member.peId}?`),
      memberButton("confirm-remove", "Remove", `Remove ${name} now`, handle, member, "primary"),
      memberButton("cancel-remove", "Cancel", `Keep ${name}`, handle, member, "remove"),
    );
  }
  const primary = member.state === "draining" || member.state === "maintenance"
    ? memberButton("restore", "Restore", `Restore ${name}`, handle, member, "primary")
    : memberButton("drain", "Drain", `Drain ${name}`, handle, member, "primary");
  const remove = member.static
    ? memberButton("remove", "Remove…", `Remove ${name}`, handle, member, "remove")
    : h(
      "span",
      { class: "muted", title: "Registered over ASAP: only the pool element can deregister" },
      "ASAP-owned",
    );
  return h("div", { class: "actions" }, primary, remove);
}

/**
 * @param {MemberPolicy} policy
 * @returns {HTMLElement}
 */
function loadCell(policy) {
  if (policy.load === undefined) {
    return h("td", { class: "muted", title: `Policy ${policy.name} reads no load` }, "—");
  }
  return h(
    "td",
    { class: "load" },
    h("meter", { min: 0, max: 100, low: 60, high: 85, optimum: 0, value: policy.load }),
    ` ${policy.load} %`,
  );
}

/**
 * @param {Pool} pool
 * @param {Member} member
 * @returns {HTMLElement}
 */
function memberRow(pool, member) {
  const [first = "?", ...others] = member.addresses;
  const address = formatAddress(first, member.port) + (others.length ? ` +${others.length}` : "");
  return h(
    "tr",
    { "data-pool": pool.handle, "data-pe-id": member.peId, "data-state": member.state },
    h("td", { class: "number" }, String(member.peId)),
    h("td", { class: "mono", title: member.addresses.join(", ") }, address),
    h("td", {}, stateBadge(member.state)),
    loadCell(member.policy),
    h("td", { class: "number" }, String(member.sessions)),
    h("td", { class: "number" }, String(member.failovers)),
    h("td", {}, formatPolicy(member.policy)),
    h(
      "td",
      {},
      `${member.static ? "static" : "ASAP"} · ${
        member.transportUse === "data-plus-control" ? "data+control" : "data only"
      }`,
    ),
    h("td", {}, memberActions(pool.handle, member)),
  );
}

/**
 * "3 members: 2 active, 1 draining"
 * @param {Member[]} members
 * @returns {string}
 */
function stateCounts(members) {
  /** @type {Map<string, number>} */
  const counts = new Map();
  for (const member of members) counts.set(member.state, (counts.get(member.state) ?? 0) + 1);
  const parts = [...counts].map(([state, count]) => `${count} ${state}`);
  return `${plural(members.length, "member")}: ${parts.join(", ")}`;
}

/**
 * @param {Pool} pool
 * @returns {HTMLElement}
 */
function poolSection(pool) {
  return h(
    "section",
    { class: "pool", "data-pool": pool.handle, "aria-label": `Pool ${pool.handle}` },
    h(
      "header",
      {},
      h("h3", { class: "mono" }, pool.handle),
      h(
        "p",
        { class: "muted" },
        `policy ${pool.policy} · failover ${pool.settings.failover} · ` +
          `${plural(pool.sessions, "session")} · ${stateCounts(pool.members)}`,
      ),
    ),
    h(
      "div",
      { class: "table-scroll" },
      table(
        `Members of pool ${pool.handle}`,
        ["PE", "Address", "State", "Load", "Sessions", "Failovers", "Policy", "Kind", "Actions"],
        pool.members.toSorted((a, b) => a.peId - b.peId).map((member) => memberRow(pool, member)),
      ),
    ),
  );
}

/**
 * @param {Session} session
 * @returns {HTMLElement}
 */
function sessionRow(session) {
  return h(
    "tr",
    { "data-session-id": session.id },
    h("td", { class: "number" }, String(session.id)),
    h("td", { class: "mono" }, session.client),
    h("td", { class: "mono" }, session.pool),
    session.peId === null
      ? h("td", { class: "muted" }, "switching")
      : h("td", { class: "number" }, String(session.peId)),
    h("td", { class: "number" }, formatBytes(session.bytesIn)),
    h("td", { class: "number" }, formatBytes(session.bytesOut)),
    h("td", { class: "number" }, String(session.failovers)),
    h("td", { class: "number" }, formatAge(session.ageMs)),
  );
}

/**
 * @param {Failover} failover
 * @returns {HTMLElement}
 */
function failoverRow(failover) {
  const at = new Date(failover.at);
  const day = formatDay(at);
  return h(
    "tr",
    { "data-session-id": failover.sessionId },
    h(
      "td",
      { class: "number", title: failover.at },
      ...(day === undefined ? [] : [h("span", { class: "day" }, day)]),
      formatTime(at),
    ),
    h("td", { class: "number" }, String(failover.sessionId)),
    h("td", { class: "mono" }, failover.pool),
    h(
      "td",
      { class: "number" },
      `${failover.fromPeId} → ${failover.toPeId === null ? "none, ended" : failover.toPeId}`,
    ),
    h("td", { class: "wrap" }, CAUSE_LABELS[failover.cause] ?? failover.cause),
  );
}

/**
 * Replaces `container`'s content with `build()` unless `state` is what it last showed, and
 * gives the focus back to the button that had it.
 * @param {HTMLElement} container
 * @param {unknown} state everything the content depends on
 * @param {() => Node[]} build
 */
function renderInto(container, state, build) {
  const key = JSON.stringify(state);
  if (ui.rendered.get(container) === key) return;
  ui.rendered.set(container, key);
  const active = document.activeElement;
  const focus = active instanceof HTMLElement && container.contains(active)
    ? active.dataset.focus
    : undefined;
  container.replaceChildren(...build());
  if (focus === undefined) return;
  for (const element of container.querySelectorAll("[data-focus]")) {
    if (element instanceof HTMLElement && element.dataset.focus === focus) element.focus();
  }
}

function render() {
  const snapshot = ui.snapshot;
  if (snapshot === undefined) return;
  const { pools, sessions, failovers } = snapshot;
  const members = pools.flatMap((pool) => pool.members);
  const active = members.filter((member) => member.state === "active").length;
  view.poolsSummary.textContent = `${plural(pools.length, "pool")} · ` +
    `${plural(members.length, "member")} · ${active} active`;
  view.sessionsSummary.textContent = sessions.length > MAX_SESSION_ROWS
    ? `${sessions.length}, the oldest ${MAX_SESSION_ROWS} shown`
    : String(sessions.length);
  view.failoversSummary.textContent = failovers.length === 0 ? "" : `last ${failovers.length}`;

  renderInto(view.pools, [pools, ui.confirming, [...ui.busy]], () => {
    if (pools.length === 0) {
      return [empty("No pools yet: pool elements register over ASAP, or add a static member.")];
    }
    return pools.map(poolSection);
  });
  renderInto(view.sessions, sessions.slice(0, MAX_SESSION_ROWS), () => {
    if (sessions.length === 0) return [empty("No sessions.")];
    return [
      table(
        "Sessions, oldest first",
        ["ID", "Client", "Pool", "PE", "In", "Out", "Failovers", "Age"],
        sessions.slice(0, MAX_SESSION_ROWS).map(sessionRow),
      ),
    ];
  });
  renderInto(view.failovers, failovers, () => {
    if (failovers.length === 0) return [empty("No failovers since Poolgate started.")];
    return [
      table(
        "Recent failovers, newest first",
        ["Time", "Session", "Pool", "PE from → to", "Cause"],
        failovers.map(failoverRow),
      ),
    ];
  });
}

// ─── Status lines ───

/**
 * @param {"live" | "down" | "paused"} state
 * @param {string} text
 */
function showConnection(state, text) {
  const glyph = { live: "●", down: "✖", paused: "❚❚" }[state];
  view.connection.className = `connection connection-${state}`;
  view.connection.replaceChildren(
    h("span", { class: "glyph", "aria-hidden": "true" }, glyph),
    ` ${text}`,
  );
}

/**
 * @param {string} text
 * @param {"ok" | "error"} kind
 */
function showNotice(text, kind) {
  view.notice.hidden = false;
  view.notice.className = `notice notice-${kind}`;
  view.notice.textContent = text;
}

/**
 * @param {unknown} error
 * @returns {string}
 */
function messageOf(error) {
  if (error instanceof TypeError) return "the admin API cannot be reached";
  return error instanceof Error ? error.message : String(error);
}

// ─── Refresh loop ───

async function refresh() {
  try {
    ui.snapshot = await serially(fetchSnapshot);
    render();
    showConnection("live", `Live · updated ${formatTime(new Date())}`);
  } catch (error) {
    if (error instanceof AuthError) {
      askForToken("The admin API refused the token: enter it again.");
      return;
    }
    showConnection("down", `Disconnected: ${messageOf(error)} · retrying`);
  }
}

/** @param {number} loop the `ui.loop` this refresh loop belongs to */
async function tick(loop) {
  ui.timer = undefined;
  if (!ui.running || loop !== ui.loop) return;
  if (document.hidden) {
    ui.paused = true;
    showConnection("paused", "Paused while the tab is hidden");
    return;
  }
  await refresh();
  if (ui.running && loop === ui.loop) ui.timer = setTimeout(() => tick(loop), POLL_INTERVAL_MS);
}

function start() {
  ui.running = true;
  ui.paused = false;
  view.tokenForm.hidden = true;
  view.live.hidden = false;
  view.forgetToken.hidden = !tokenRequired;
  clearTimeout(ui.timer);
  tick(++ui.loop);
}

function stop() {
  ui.loop++;
  ui.running = false;
  ui.paused = false;
  clearTimeout(ui.timer);
  ui.timer = undefined;
}

/** @param {string} [problem] why it is asked again */
function askForToken(problem) {
  stop();
  sessionStorage.removeItem(TOKEN_KEY);
  ui.snapshot = undefined;
  ui.rendered.clear();
  view.live.hidden = true;
  view.forgetToken.hidden = true;
  view.tokenForm.hidden = false;
  view.tokenError.hidden = problem === undefined;
  view.tokenError.textContent = problem ?? "";
  showConnection("paused", "Waiting for the admin token");
  view.tokenInput.focus();
}

// ─── Member actions ───

/** @type {Readonly<Record<MemberAction, string>>} */
const DONE = { drain: "is draining", restore: "is restored", remove: "was removed" };

/**
 * @param {MemberAction} action
 * @param {string} handle
 * @param {number} peId
 */
async function act(action, handle, peId) {
  const key = memberKey(handle, peId);
  const path = `${poolPath(handle)}/members/${peId}`;
  const name = `Pool element ${peId} of pool ${handle}`;
  ui.busy.add(key);
  render();
  try {
    if (action === "remove") await serially(() => api("DELETE", path));
    else {
      const body = action === "drain" ? { drain: true } : { drain: false, maintenance: false };
      await serially(() => api("PATCH", path, body));
    }
    showNotice(`${name} ${DONE[action]}.`, "ok");
  } catch (error) {
    if (error instanceof AuthError) {
      askForToken("The admin API refused the token: enter it again.");
      return;
    }
    showNotice(`Could not ${action} ${name.toLowerCase()}: ${messageOf(error)}`, "error");
  } finally {
    ui.busy.delete(key);
  }
  await refresh();
}

view.pools.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target.closest("button") : null;
  const { action, pool, peId } = target?.dataset ?? {};
  if (action === undefined || pool === undefined || peId === undefined) return;
  const key = memberKey(pool, Number(peId));
  if (action === "remove") ui.confirming = key;
  else if (action === "cancel-remove") ui.confirming = undefined;
  else {
    ui.confirming = undefined;
    const chosen = action === "confirm-remove" ? "remove" : action;
    if (chosen === "drain" || chosen === "restore" || chosen === "remove") {
      act(chosen, pool, Number(peId));
    }
  }
  render();
});

view.pools.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || ui.confirming === undefined) return;
  ui.confirming = undefined;
  render();
});

// ─── Token ───

view.tokenForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const token = view.tokenInput.value.trim();
  if (!TOKEN_PATTERN.test(token)) {
    view.tokenError.hidden = false;
    view.tokenError.textContent =
      "A token is visible ASCII characters without spaces: check what was pasted.";
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  view.tokenInput.value = "";
  start();
});

view.forgetToken.addEventListener("click", () => askForToken());

document.addEventListener("visibilitychange", () => {
  if (document.hidden || !ui.paused) return;
  ui.paused = false;
  tick(ui.loop);
});

if (tokenRequired && sessionStorage.getItem(TOKEN_KEY) === null) askForToken();
else start();
