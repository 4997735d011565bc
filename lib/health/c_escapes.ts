/** The byte each single-character C escape stands for. */
const SIMPLE_ESCAPES: ReadonlyMap<string, number> = new Map([
  ["n", 0x0a],
  ["r", 0x0d],
  ["t", 0x09],
  ["\\", 0x5c],
  ["0", 0x00],
]);

const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;

/**
 * Turns text with C-style escapes (`\n`, `\r`, `\t`, `\\`, `\0`, `\xNN`) into bytes: other
 * characters are encoded as UTF-8, `\xNN` is the single raw byte NN. Used for the health check's
 * send and expect bytes given on the command line.
 *
 * @example
 * ```ts
 * parseCEscapes("PING\\r\\n"); // Uint8Array [0x50, 0x49, 0x4e, 0x47, 0x0d, 0x0a]
 * ```
 * @throws {RangeError} on an unknown escape, a `\x` without two hex digits, or a trailing `\`.
 */
export function parseCEscapes(text: string): Uint8Array {
  const encoder = new TextEncoder();
  const bytes: number[] = [];
  let literalStart = 0;
  const flushLiteral = (end: number) => {
    if (end > literalStart) bytes.push(...encoder.encode(text.slice(literalStart, end)));
  };
  let index = text.indexOf("\\");
  while (index !== -1) {
    flushLiteral(index);
    const letter = text[index + 1];
    if (letter === undefined) {
      throw new RangeError(
        `Cannot parse escapes in ${
          JSON.stringify(text)
        }: a lone "\\" ends the text at index ${index}`,
      );
    }
    const simple = SIMPLE_ESCAPES.get(letter);
    let length = 2;
    if (simple !== undefined) {
      bytes.push(simple);
    } else if (letter === "x") {
      const hex = text.slice(index + 2, index + 4);
      if (!HEX_PAIR.test(hex)) {
        throw new RangeError(
          `Cannot parse escapes in ${
            JSON.stringify(text)
          }: "\\x" at index ${index} needs two hex digits`,
        );
      }
      bytes.push(Number.parseInt(hex, 16));
      length = 4;
    } else {
      throw new RangeError(
        `Cannot parse escapes in ${
          JSON.stringify(text)
        }: unknown escape "\\${letter}" at index ${index} (known: \\n \\r \\t \\\\ \\0 \\xNN)`,
      );
    }
    literalStart = index + length;
    index = text.indexOf("\\", literalStart);
  }
  flushLiteral(text.length);
  return Uint8Array.from(bytes);
}
