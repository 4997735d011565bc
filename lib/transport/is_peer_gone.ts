/**
 * True when `error` means the peer went away (reset, broken pipe, aborted, end of stream in
 * the middle of a message): the cases that trigger failover rather than a protocol error.
 */
export function isPeerGone(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.UnexpectedEof;
}
