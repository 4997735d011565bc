/**
 * The single-value parameters of RFC 5354 §3: Pool Handle (§3.9), Cookie (§3.13), PE Identifier
 * (§3.14), PE Checksum (§3.15), and the Handle Resolution Option (0x803f,
 * draft-dreibholz-rserpool-asap-hropt).
 */
import { ParameterType } from "./codes.ts";
import type { WireReader } from "./reader.ts";
import type { WireWriter } from "./writer.ts";

/**
 * Reads the Pool Handle parameter at the cursor: a view of the input (no copy), 1 to
 * `maxPoolHandleLength` bytes.
 *
 * @throws {WireError}
 */
export function readPoolHandle(r: WireReader): Uint8Array {
  const what = "Pool Handle parameter";
  const outer = r.enterParameter(what);
  const length = r.remaining();
  if (length === 0) r.fail(what, "the pool handle is empty", r.offset - 2);
  if (length > r.limits.maxPoolHandleLength) {
    r.fail(
      what,
      `the pool handle's ${length} bytes exceed the limit ${r.limits.maxPoolHandleLength}`,
      r.offset - 2,
    );
  }
  const handle = r.rest();
  r.leaveParameter(outer, what);
  return handle;
}

/** Reads the Cookie parameter at the cursor: a view of the input (no copy). @throws {WireError} */
export function readCookie(r: WireReader): Uint8Array {
  const what = "Cookie parameter";
  const outer = r.enterParameter(what);
  const cookie = r.rest();
  r.leaveParameter(outer, what);
  return cookie;
}

function readFixed(r: WireReader, what: string, size: 2 | 4): number {
  const outer = r.enterParameter(what);
  if (r.remaining() !== size) {
    r.fail(what, `length ${r.remaining() + 4} is not ${size + 4}`, r.offset - 2);
  }
  const value = size === 4 ? r.u32(what) : r.u16(what);
  r.leaveParameter(outer, what);
  return value;
}

/** Reads the PE Identifier parameter at the cursor. @throws {WireError} */
export function readPoolElementIdentifier(r: WireReader): number {
  return readFixed(r, "PE Identifier parameter", 4);
}

/** Reads the PE Checksum parameter at the cursor (Length 6, RFC 5354 §3.15). @throws {WireError} */
export function readPoolElementChecksum(r: WireReader): number {
  return readFixed(r, "PE Checksum parameter", 2);
}

/** Reads the Handle Resolution Option at the cursor: the item count. @throws {WireError} */
export function readHandleResolutionOption(r: WireReader): number {
  return readFixed(r, "Handle Resolution Option parameter", 4);
}

/** Writes a parameter whose value is `bytes` (Pool Handle, Cookie). */
export function writeOpaqueParameter(w: WireWriter, type: number, bytes: Uint8Array): void {
  const mark = w.beginParameter(type);
  w.bytes(bytes);
  w.endParameter(mark, "parameter");
}

/**
 * Writes a Pool Handle parameter.
 *
 * @throws {RangeError} when the handle is empty.
 */
export function writePoolHandle(w: WireWriter, handle: Uint8Array): void {
  if (handle.length === 0) {
    throw new RangeError("Cannot encode Pool Handle parameter as the pool handle is empty");
  }
  writeOpaqueParameter(w, ParameterType.poolHandle, handle);
}

/** Writes a PE Identifier parameter. @throws {RangeError} */
export function writePoolElementIdentifier(w: WireWriter, identifier: number): void {
  const mark = w.beginParameter(ParameterType.poolElementIdentifier);
  w.u32(identifier, "PE identifier");
  w.endParameter(mark, "PE Identifier parameter");
}

/** Writes a PE Checksum parameter (Length 6, then 2 padding bytes). @throws {RangeError} */
export function writePoolElementChecksum(w: WireWriter, checksum: number): void {
  const mark = w.beginParameter(ParameterType.poolElementChecksum);
  w.u16(checksum, "PE checksum");
  w.endParameter(mark, "PE Checksum parameter");
}

/** Writes a Handle Resolution Option parameter. @throws {RangeError} */
export function writeHandleResolutionOption(w: WireWriter, items: number): void {
  const mark = w.beginParameter(ParameterType.handleResolutionOption);
  w.u32(items, "handle resolution items");
  w.endParameter(mark, "Handle Resolution Option parameter");
}
