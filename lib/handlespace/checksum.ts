/**
 * The ENRP PE checksum (RFC 5353 §3.6.2, rserpool-wire.md §6.4): the RFC 1071 Internet checksum
 * over one block per pool element, `pool handle (zero-padded to an even length) ‖ PE identifier`.
 *
 * The ones' complement sum does not depend on the order of the words, so a handlespace keeps a
 * plain integer sum per owner, adds and subtracts one block per change, and folds only when the
 * checksum is read. The sum is a JS number (exact below 2^53), not a wrapping u32.
 */

/** One PE's contribution to a checksum sum. */
export interface ChecksumEntry {
  readonly handle: Uint8Array;
  readonly identifier: number;
}

/** The sum of the 16-bit big-endian words of `handle`, zero-padded to an even length. */
export function handleWordSum(handle: Uint8Array): number {
  let sum = 0;
  const even = handle.length & ~1;
  for (let i = 0; i < even; i += 2) sum += (handle[i]! << 8) | handle[i + 1]!;
  if (even !== handle.length) sum += handle[even]! << 8;
  return sum;
}

/** The sum of one PE's block, from its pool handle's word sum and its identifier. */
export function elementWordSum(handleSum: number, identifier: number): number {
  return handleSum + (identifier >>> 16) + (identifier & 0xffff);
}

/** Folds a word sum (any non-negative integer below 2^53) into the 16-bit checksum. */
export function foldChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** The checksum of `entries`, computed from scratch (0xffff for none). */
export function computeChecksum(entries: Iterable<ChecksumEntry>): number {
  let sum = 0;
  for (const entry of entries) sum += elementWordSum(handleWordSum(entry.handle), entry.identifier);
  return foldChecksum(sum);
}
