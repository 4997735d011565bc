/**
 * What both session kinds share: the idle watch, whole writes, quiet closes, and leaving a
 * pool element exactly once ({@linkcode Session} over DATA ONLY, `ControlSession` over the
 * DATA PLUS CONTROL channel).
 *
 * @module
 */

/** Idle checks per idle timeout: a session is closed between 1 and 1.25 idle timeouts of silence. */
const IDLE_TICKS = 4;

/**
 * Calls `onIdle` once `activity()` (a byte count that grows while bytes move) has stayed the
 * same for `idleMs`, checking every quarter of it; 0 watches nothing.
 */
export class IdleWatch {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #seen: number;
  #quietTicks = 0;

  /** Starts watching. */
  constructor(idleMs: number, activity: () => number, onIdle: () => void) {
    this.#seen = activity();
    if (idleMs === 0) return;
    const tick = Math.max(1, Math.ceil(idleMs / IDLE_TICKS));
    const check = () => {
      const seen = activity();
      if (seen !== this.#seen) {
        this.#seen = seen;
        this.#quietTicks = 0;
      } else if (++this.#quietTicks >= IDLE_TICKS) {
        this.#timer = undefined;
        onIdle();
        return;
      }
      this.#timer = setTimeout(check, tick);
    };
    this.#timer = setTimeout(check, tick);
  }

  /** Stops watching; idempotent. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** Writes all of `bytes`. */
export async function writeAll(
  conn: { write(data: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/** Closes a connection that may already be closed. */
export function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** A connection to a pool element that a session leaves at most once. */
export interface Replaceable<T> {
  /** Set when the session starts leaving it; resolves to the next one, if any. */
  replaced: Promise<T | undefined> | undefined;
}

/**
 * Starts `failover` for `leg` unless it was started already, and returns the promise of the next
 * leg; never rejects (a failure goes to `onError` and yields undefined).
 */
export function replaceOnce<T extends Replaceable<T>>(
  leg: T,
  failover: () => Promise<T | undefined>,
  onError: (error: unknown) => void,
): Promise<T | undefined> {
  if (leg.replaced !== undefined) return leg.replaced;
  // Set before the failover starts: reporting the pool element may remove it at once, and the
  // removal calls `failover()` again from within (re-entrant), which must find it set.
  const { promise, resolve } = Promise.withResolvers<T | undefined>();
  leg.replaced = promise;
  failover().then(resolve, (error: unknown) => {
    onError(error);
    resolve(undefined);
  });
  return promise;
}
