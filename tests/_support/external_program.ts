/**
 * Tests that need a program outside Deno (tshark, chromium, promtool) run for real where it is
 * installed. Where it is missing they are ignored, so `deno test` lists them as skipped by name,
 * unless POOLGATE_REQUIRE_EXTERNAL=1 (set by .ci/run): then a missing program fails the test.
 */

const found = new Map<string, boolean>();

/** True when `program` is on PATH. */
export function hasProgram(program: string): boolean {
  let known = found.get(program);
  if (known === undefined) {
    const paths = (Deno.env.get("PATH") ?? "").split(":").filter((p) => p !== "");
    known = paths.some((dir) => {
      try {
        return Deno.statSync(`${dir}/${program}`).isFile;
      } catch {
        return false;
      }
    });
    found.set(program, known);
  }
  return known;
}

/** True when CI demands every external program (POOLGATE_REQUIRE_EXTERNAL=1). */
export function externalProgramsRequired(): boolean {
  return Deno.env.get("POOLGATE_REQUIRE_EXTERNAL") === "1";
}

/**
 * `Deno.test` options for a test that needs `programs`: ignored when one is missing on a
 * user's machine, run (and failing on the missing program) when CI requires them.
 */
export function needsPrograms(...programs: string[]): { ignore: boolean } {
  const missing = programs.filter((p) => !hasProgram(p));
  return { ignore: missing.length > 0 && !externalProgramsRequired() };
}
