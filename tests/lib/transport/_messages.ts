/**
 * Message bytes for transport tests: the tshark-checked vectors of tests/fixtures, and
 * synthetic frames of any Length.
 *
 * @module
 */

interface Vector {
  name: string;
  hex: string;
}

const vectors: Vector[] = JSON.parse(
  Deno.readTextFileSync(new URL("../../fixtures/wire_vectors.json", import.meta.url)),
);

/** Every fixture message as bytes, in file order; some have Length not a multiple of 4. */
export const VECTOR_MESSAGES: readonly Uint8Array[] = vectors.map((vector) =>
  Uint8Array.from(vector.hex.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16))
);

/** A message of type 0x0b (ASAP Cookie) whose header says `length`, body filled with `fill`, padded. */
export function frame(length: number, fill = 0xaa): Uint8Array {
  const bytes = new Uint8Array(Math.max(4, (length + 3) & ~3));
  bytes.fill(fill, 4, length);
  bytes.set([0x0b, 0x00, length >> 8, length & 0xff]);
  return bytes;
}

/** `parts` one after another in one array. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  return all;
}
