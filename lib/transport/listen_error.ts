/**
 * Bind failures that name the address and its role: Deno's own errors name neither, and a
 * process binding ASAP, ENRP, front listeners and the admin API must say which one failed.
 *
 * @module
 */
import { formatAddress } from "./format_address.ts";

/** The address a socket was asked to bind, as `Deno.listen` and `Deno.serve` take it. */
export interface ListenAddress {
  /** Host or address to bind. */
  readonly hostname: string;
  /** TCP port; 0 asks for a free one. */
  readonly port: number;
}

/**
 * A socket could not be bound. Deno's own error (`cause`, such as `Deno.errors.AddrInUse`) names
 * no address, so a process that binds several could not say which one to change.
 */
export class ListenError extends Error {
  /** The address asked for. */
  readonly address: ListenAddress;
  /** What the socket was for (such as "ASAP" or "admin API"): the flag or setting to change. */
  readonly role: string;
  /** What Deno threw; callers that treat a taken port apart test its class. */
  override readonly cause: Error;

  /** Builds the error; the message is the whole line an operator needs. */
  constructor(address: ListenAddress, role: string, cause: Error) {
    const where = formatAddress({ transport: "tcp", ...address });
    super(`Cannot listen on ${where} (${role}): ${cause.message}`, { cause });
    this.name = "ListenError";
    this.address = { hostname: address.hostname, port: address.port };
    this.role = role;
    this.cause = cause;
  }
}

/**
 * Calls `bind` with `address` (a `Deno.listen` or `Deno.serve`) and returns what it returns;
 * what it throws comes back as a {@linkcode ListenError} naming `address` and `role`.
 */
export function bindNamed<T>(
  address: ListenAddress,
  role: string,
  bind: (address: ListenAddress) => T,
): T {
  try {
    return bind(address);
  } catch (error) {
    // `bind` does nothing but bind, so anything it throws (a taken port, a host name that does
    // not resolve) is about this address.
    if (error instanceof Error) throw new ListenError(address, role, error);
    throw error;
  }
}
