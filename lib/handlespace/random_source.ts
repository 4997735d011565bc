/** Seeded random sources for the random policies: reproducible tests and benchmarks. */
import type { RandomSource } from "./policies/policy.ts";

/** mulberry32: a small, fast generator of uint32 values from a 32-bit seed. */
export function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A {@linkcode RandomSource} in [0, 1) from mulberry32 seeded with `seed`. */
export function seededRandom(seed: number): RandomSource {
  const next = mulberry32(seed);
  return () => next() / 0x100000000;
}
