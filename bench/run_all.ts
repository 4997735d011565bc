/**
 * `deno task bench`: runs every in-repository benchmark one after another and passes their
 * JSON lines through on stdout, each tagged with the script that printed it. Side-by-side runs
 * with other systems (HAProxy, nginx, RSPLIB) need those installed and are in bench/README.md.
 *
 *   deno run --allow-all --v8-flags=--expose-gc bench/run_all.ts [NAME...]
 */

/** Each benchmark: its script and the Deno flags it needs. */
const BENCHMARKS: Record<string, { script: string; denoFlags: string[]; args?: string[] }> = {
  wire: { script: "wire_bench.ts", denoFlags: ["--allow-read"] },
  handlespace: {
    script: "handlespace_bench.ts",
    denoFlags: ["--allow-all", "--v8-flags=--expose-gc"],
  },
  registrar: { script: "registrar_bench.ts", denoFlags: ["--allow-all"] },
  enrp: { script: "enrp_bench.ts", denoFlags: ["--allow-all"] },
  "control-channel": { script: "control_channel_bench.ts", denoFlags: ["--allow-all"] },
};

const names = Deno.args.length > 0 ? Deno.args : Object.keys(BENCHMARKS);
let failed = 0;
for (const name of names) {
  const bench = BENCHMARKS[name];
  if (bench === undefined) {
    console.error(
      `Unknown benchmark ${JSON.stringify(name)}; known: ${Object.keys(BENCHMARKS).join(", ")}`,
    );
    Deno.exit(2);
  }
  const script = new URL(bench.script, import.meta.url).pathname;
  try {
    Deno.statSync(script);
  } catch {
    console.error(`Skipping ${name}: ${bench.script} is not there`);
    continue;
  }
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...bench.denoFlags, script, ...(bench.args ?? [])],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  for (const line of new TextDecoder().decode(output.stdout).split("\n")) {
    if (line.trim() === "") continue;
    try {
      console.log(JSON.stringify({ suite: name, ...JSON.parse(line) }));
    } catch {
      console.error(`${name}: ${line}`);
    }
  }
  if (!output.success) {
    failed++;
    console.error(`${name} exited with ${output.code}`);
  }
}
Deno.exit(failed > 0 ? 1 : 0);
