/**
 * The Operation Error parameter (RFC 5354 §3.12): one or more error causes, each
 * `code u16 | length u16 | info | padding`. Unknown cause codes are kept as numbers.
 */
import { ParameterType } from "./codes.ts";
import type { ErrorCause } from "./parameters.ts";
import type { WireReader } from "./reader.ts";
import type { WireWriter } from "./writer.ts";

/**
 * Reads the Operation Error parameter at the cursor; cause info is a view of the input (no
 * copy).
 *
 * @throws {WireError} when a cause is malformed or there is none.
 */
export function readOperationError(r: WireReader): ErrorCause[] {
  const what = "Operation Error parameter";
  const outer = r.enterParameter(what);
  const causes: ErrorCause[] = [];
  while (r.remaining() > 0) {
    const causeWhat = "error cause";
    const causeOuter = r.enterParameter(causeWhat);
    const at = r.offset - 4;
    const code = (r.input[at]! << 8) | r.input[at + 1]!;
    causes.push({ code, info: r.rest() });
    r.leaveParameter(causeOuter, causeWhat);
  }
  if (causes.length === 0) r.fail(what, "no error cause");
  r.leaveParameter(outer, what);
  return causes;
}

/**
 * Writes an Operation Error parameter.
 *
 * @throws {RangeError} when there is no cause or a code is not a u16.
 */
export function writeOperationError(w: WireWriter, causes: readonly ErrorCause[]): void {
  if (causes.length === 0) {
    throw new RangeError("Cannot encode Operation Error parameter as it has no error cause");
  }
  const mark = w.beginParameter(ParameterType.operationError);
  for (const cause of causes) {
    const causeMark = w.beginParameter(cause.code);
    w.bytes(cause.info);
    w.endParameter(causeMark, "error cause");
  }
  w.endParameter(mark, "Operation Error parameter");
}
