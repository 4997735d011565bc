/**
 * IP address text for the IPv4 and IPv6 Address parameters (RFC 5354 §3.1, §3.2): dotted quad,
 * and RFC 5952 text for IPv6 (lower case, longest zero run as "::", IPv4-mapped addresses as
 * "::ffff:a.b.c.d").
 */

const DECIMAL: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i));
// "0." .. "255.": three concatenations per address instead of six (decoders format every one).
const DECIMAL_DOT: readonly string[] = DECIMAL.map((text) => text + ".");

/** Formats the 4 bytes at `offset` as a dotted quad. */
export function formatIpv4(bytes: Uint8Array, offset: number): string {
  return DECIMAL_DOT[bytes[offset]!]! + DECIMAL_DOT[bytes[offset + 1]!]! +
    DECIMAL_DOT[bytes[offset + 2]!]! + DECIMAL[bytes[offset + 3]!]!;
}

/** Formats the 16 bytes at `offset` as RFC 5952 text. */
export function formatIpv6(bytes: Uint8Array, offset: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) {
    groups.push((bytes[offset + i]! << 8) | bytes[offset + i + 1]!);
  }
  // RFC 5952 §5: IPv4-mapped addresses end in dotted-quad notation.
  if (
    groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 &&
    groups[4] === 0 && groups[5] === 0xffff
  ) {
    return "::ffff:" + formatIpv4(bytes, offset + 12);
  }
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.map((g) => g.toString(16)).join(":");
  const head = groups.slice(0, bestStart).map((g) => g.toString(16)).join(":");
  const tail = groups.slice(bestStart + bestLength).map((g) => g.toString(16)).join(":");
  return head + "::" + tail;
}

/**
 * Parses dotted-quad text into `into` at `offset`; returns false when it is not one. A
 * character loop rather than split() and a regex: encoders parse every address they send.
 */
export function parseIpv4(text: string, into: Uint8Array, offset: number): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      value = value * 10 + (c - 0x30);
      if (++digits > 3 || value > 255) return false;
    } else if (c === 0x2e && digits > 0 && part < 3) {
      into[offset + part++] = value;
      value = 0;
      digits = 0;
    } else {
      return false;
    }
  }
  if (part !== 3 || digits === 0) return false;
  into[offset + 3] = value;
  return true;
}

function parseGroups(text: string, ipv4TailAllowed: boolean): number[] | undefined {
  if (text === "") return [];
  const parts = text.split(":");
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (ipv4TailAllowed && i === parts.length - 1 && part.includes(".")) {
      const quad = new Uint8Array(4);
      if (!parseIpv4(part, quad, 0)) return undefined;
      groups.push((quad[0]! << 8) | quad[1]!, (quad[2]! << 8) | quad[3]!);
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined;
      groups.push(parseInt(part, 16));
    }
  }
  return groups;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const head = parseGroups(halves[0]!, false);
    const tail = parseGroups(halves[1]!, true);
    if (head === undefined || tail === undefined || head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = parseGroups(text, true);
    if (all === undefined || all.length !== 8) return undefined;
    groups = all;
  }
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = groups[i]! >>> 8;
    bytes[2 * i + 1] = groups[i]!;
  }
  return bytes;
}

/**
 * Parses IPv4 or IPv6 text into 4 or 16 bytes; returns undefined when `text` is neither.
 * Text containing ":" is IPv6 and goes into an IPv6 Address parameter.
 */
export function parseIpAddress(text: string): Uint8Array | undefined {
  if (text.includes(":")) return parseIpv6(text);
  const bytes = new Uint8Array(4);
  return parseIpv4(text, bytes, 0) ? bytes : undefined;
}
