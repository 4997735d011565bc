/** Parameter sequences that several ASAP and ENRP messages share (folder-private). */
import { readPoolElementIdentifier, readPoolHandle } from "./basic_parameters.ts";
import { ParameterType } from "./codes.ts";
import { readOperationError } from "./error_causes.ts";
import type { ErrorCause, PoolElementParameter } from "./parameters.ts";
import { readPoolElement, writePoolElement } from "./pool_element.ts";
import type { WireReader } from "./reader.ts";
import type { WireWriter } from "./writer.ts";

/** Reads the parameter of type `type` that must come next. */
export function expectParameter(r: WireReader, type: number, what: string): void {
  const next = r.nextParameterType(what);
  if (next !== type) r.unexpected(next, what);
}

/** Reads the Pool Handle parameter that must come next. */
export function expectPoolHandle(r: WireReader, what: string): Uint8Array {
  expectParameter(r, ParameterType.poolHandle, what);
  return readPoolHandle(r);
}

/** Reads the PE Identifier parameter that must come next. */
export function expectIdentifier(r: WireReader, what: string): number {
  expectParameter(r, ParameterType.poolElementIdentifier, what);
  return readPoolElementIdentifier(r);
}

/** Reads an optional final Operation Error parameter. */
export function readFinalOperationError(r: WireReader, what: string): ErrorCause[] | undefined {
  const type = r.nextParameterType(what);
  if (type === -1) return undefined;
  if (type !== ParameterType.operationError) r.unexpected(type, what);
  const causes = readOperationError(r);
  r.expectEnd(what);
  return causes;
}

/** Reads the Operation Error parameter that makes up the rest of an Error message. */
export function readErrorBody(r: WireReader, what: string): ErrorCause[] {
  const causes = readFinalOperationError(r, what);
  return causes ?? r.unexpected(-1, what);
}

/** Reads Pool Element parameters while they come; returns the type that ended them. */
export function readPoolElements(
  r: WireReader,
  into: PoolElementParameter[],
  what: string,
): number {
  let type = r.nextParameterType(what);
  while (type === ParameterType.poolElement) {
    into.push(readPoolElement(r));
    type = r.nextParameterType(what);
  }
  return type;
}

/** Writes a list of Pool Element parameters. */
export function writePoolElements(
  w: WireWriter,
  poolElements: readonly PoolElementParameter[],
): void {
  for (const poolElement of poolElements) writePoolElement(w, poolElement);
}
