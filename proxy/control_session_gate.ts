/**
 * Bounds the connects in flight to each pool element across the proxy's control sessions.
 * When a pool element dies, every session on it fails over at once; hundreds of simultaneous
 * connects to one survivor overflow its accept queue, the kernel drops the SYNs, and each
 * dropped one is retried only after TCP's 1 s initial timeout: the connect times out, the
 * survivor is reported unreachable and removed, and the failover cascades. A turn lasts until
 * the pool element has accepted the channel (its hello came), because the kernel completes a
 * connect long before a busy process accepts it: queued here, channels reach a pool element a
 * few dozen at a time and its accept queue never overflows.
 *
 * @module
 */

/** Channels connecting to one pool element and not yet accepted by it, at most, unless told otherwise. */
export const DEFAULT_MAX_CONNECTS_PER_PE = 64;

/** A queued connect given up because one to the same pool element failed meanwhile. */
export class PeConnectFailedError extends Error {
  /** Builds the error for `target` (`host:port`). */
  constructor(target: string) {
    super(`Cannot connect to ${target}: a connect to it failed while this one waited its turn`);
    this.name = "PeConnectFailedError";
  }
}

interface Queue {
  active: number;
  readonly waiters: { resolve: () => void; reject: (error: Error) => void }[];
}

/** A turn to connect; release it with the outcome once the pool element has accepted or failed. */
export type ConnectTurn = (connected: boolean) => void;

/** Per pool element queues of connects, shared by the sessions of one proxy. */
export class ConnectGate {
  /** Most connects in flight to one pool element. */
  readonly maxPerPe: number;
  readonly #queues = new Map<string, Queue>();

  /**
   * Creates a gate letting `maxPerPe` connects through to each pool element at once.
   *
   * @throws {RangeError} when `maxPerPe` is not a positive integer.
   */
  constructor(maxPerPe: number = DEFAULT_MAX_CONNECTS_PER_PE) {
    if (!Number.isSafeInteger(maxPerPe) || maxPerPe < 1) {
      throw new RangeError(
        `Cannot create connect gate as 'maxPerPe' must be a positive integer: current value is ${maxPerPe}`,
      );
    }
    this.maxPerPe = maxPerPe;
  }

  /** Pool elements with connects in flight or queued (the table holds no others). */
  get size(): number {
    return this.#queues.size;
  }

  /**
   * Waits for a turn to connect to `target` (`host:port`). Release the turn with the outcome:
   * a failure rejects every connect queued for `target` at that moment.
   *
   * @throws {PeConnectFailedError} when a connect to `target` failed while this one waited.
   */
  async turn(target: string): Promise<ConnectTurn> {
    let queue = this.#queues.get(target);
    if (queue === undefined) {
      queue = { active: 0, waiters: [] };
      this.#queues.set(target, queue);
    }
    if (queue.active >= this.maxPerPe) {
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      queue.waiters.push({ resolve, reject });
      await promise;
    } else {
      queue.active += 1;
    }
    let released = false;
    return (connected) => {
      if (released) return;
      released = true;
      this.#release(target, queue, connected);
    };
  }

  #release(target: string, queue: Queue, connected: boolean): void {
    if (!connected) {
      for (const waiter of queue.waiters.splice(0)) {
        waiter.reject(new PeConnectFailedError(target));
      }
    }
    const next = queue.waiters.shift();
    // The turn passes on to the next waiter as it is; otherwise it is given back.
    if (next !== undefined) next.resolve();
    else queue.active -= 1;
    if (queue.active === 0 && queue.waiters.length === 0) this.#queues.delete(target);
  }
}
