import assert from "node:assert/strict";

const CHILD = new URL("../_support/stuck_component.ts", import.meta.url).pathname;

async function withStuckChild(
  graceMs: number,
  body: (child: Deno.ChildProcess, waitFor: (pattern: RegExp) => Promise<string>) => Promise<void>,
) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", CHILD, String(graceMs)],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const waiters: { pattern: RegExp; resolve: (text: string) => void }[] = [];
  const pump = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      for (const w of waiters.filter((w) => w.pattern.test(text))) w.resolve(text);
    }
  })();
  const waitFor = (pattern: RegExp) => {
    if (pattern.test(text)) return Promise.resolve(text);
    const { promise, resolve } = Promise.withResolvers<string>();
    waiters.push({ pattern, resolve });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no ${pattern} within 20 s in: ${text}`)), 20_000);
    });
    return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
  };
  try {
    await body(child, waitFor);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.status;
    await pump;
  }
}

Deno.test("runUntilSignal() forces the exit when the grace time is over", async () => {
  await withStuckChild(300, async (child, waitFor) => {
    await waitFor(/"ready"/);
    child.kill("SIGTERM");
    await waitFor(/shutting down gracefully/);
    const status = await child.status;
    assert.equal(status.code, 1);
    assert.match(await waitFor(/Shutdown forced/), /"why":"grace time over"/);
  });
});

Deno.test("runUntilSignal() forces the exit at a second signal", async () => {
  await withStuckChild(60_000, async (child, waitFor) => {
    await waitFor(/"ready"/);
    child.kill("SIGTERM");
    await waitFor(/shutting down gracefully/);
    child.kill("SIGINT");
    const status = await child.status;
    assert.equal(status.code, 1);
    assert.match(await waitFor(/Shutdown forced/), /"why":"second signal"/);
  });
});
