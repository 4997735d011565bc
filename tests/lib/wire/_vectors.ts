/** The tshark-verified wire vectors (`tests/fixtures/wire_vectors.json`) and hex helpers. */

/** One vector: a whole message as it goes on the wire, and what tshark 4.0 decoded from it. */
export interface WireVector {
  readonly name: string;
  readonly protocol: "asap" | "enrp";
  readonly hex: string;
  readonly tshark: Record<string, unknown>;
}

/** Every vector, in file order. */
export const VECTORS: readonly WireVector[] = JSON.parse(
  Deno.readTextFileSync(new URL("../../fixtures/wire_vectors.json", import.meta.url)),
);

/** Bytes from hex text. */
export function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

/** The vector's bytes. */
export function vectorBytes(vector: WireVector): Uint8Array {
  return fromHex(vector.hex);
}
