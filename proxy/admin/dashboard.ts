/**
 * GET /: the operators' dashboard (docs/dashboard.md). One HTML page, built from
 * dashboard.html with dashboard.css and dashboard.js inlined; the three are imported as text,
 * so there is no build step and `deno compile` embeds them. The page holds no data: its script
 * reads the admin API with the operator's bearer token, so GET / itself needs none. A
 * Content-Security-Policy lets the page run only its own script and style (CSP Level 3 hash
 * sources) and connect only to its own origin, so data shown in it cannot inject code.
 *
 * @module
 */
import template from "./dashboard.html" with { type: "text" };
import style from "./dashboard.css" with { type: "text" };
import script from "./dashboard.js" with { type: "text" };

/** Options of {@linkcode createDashboardPage}. */
export interface DashboardOptions {
  /** True when the admin API needs a bearer token: the page then asks for it first. */
  readonly tokenRequired: boolean;
}

/** The dashboard as served: the page and the headers that go with it. */
export interface DashboardPage {
  /** The HTML document, script and style inline. */
  readonly html: string;
  /** Content-Type, Content-Security-Policy and the other response headers. */
  readonly headers: Readonly<Record<string, string>>;
}

const STYLE_LINK = '<link rel="stylesheet" href="dashboard.css">';
const SCRIPT_TAG = '<script type="module" src="dashboard.js"></script>';
const HTML_TAG = '<html lang="en">';

/** `text` with its one `search` replaced; throws when there is not exactly one. */
function replaceOnce(text: string, search: string, replacement: string): string {
  const at = text.indexOf(search);
  if (at < 0 || text.indexOf(search, at + 1) >= 0) {
    throw new Error(`Cannot build dashboard as dashboard.html must hold ${search} once`);
  }
  return text.slice(0, at) + replacement + text.slice(at + search.length);
}

/** Throws when `content` would end its inline element early. */
function checkInline(content: string, element: "script" | "style"): string {
  if (content.toLowerCase().includes(`</${element}`)) {
    throw new Error(`Cannot inline dashboard ${element} as it contains "</${element}"`);
  }
  return content;
}

/** A CSP hash source of `content` (CSP Level 3 §2.3.1: SHA-256 of the UTF-8, base64). */
async function hashSource(content: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(content));
  return `'sha256-${btoa(String.fromCharCode(...new Uint8Array(digest)))}'`;
}

/** Builds the dashboard page and its headers. */
export async function createDashboardPage(options: DashboardOptions): Promise<DashboardPage> {
  const auth = options.tokenRequired ? "bearer" : "none";
  let html = replaceOnce(template, HTML_TAG, `<html lang="en" data-auth="${auth}">`);
  html = replaceOnce(html, STYLE_LINK, `<style>${checkInline(style, "style")}</style>`);
  html = replaceOnce(
    html,
    SCRIPT_TAG,
    `<script type="module">${checkInline(script, "script")}</script>`,
  );
  const policy = [
    "default-src 'none'",
    `script-src ${await hashSource(script)}`,
    `style-src ${await hashSource(style)}`,
    "connect-src 'self'",
    // The empty data: favicon, so the browser asks for no /favicon.ico.
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  return {
    html,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": policy,
      "x-content-type-options": "nosniff",
      "x-frame-options": "DENY",
      "referrer-policy": "no-referrer",
      // The page changes with Poolgate's version: a browser revalidates rather than keeps it.
      "cache-control": "no-cache",
    },
  };
}

/**
 * The GET / handler: the page is built on the first request and kept. It needs no token;
 * see the module doc.
 */
export function dashboardHandler(options: DashboardOptions): () => Promise<Response> {
  let page: Promise<DashboardPage> | undefined;
  return async () => {
    page ??= createDashboardPage(options);
    const { html, headers } = await page;
    return new Response(html, { headers });
  };
}
