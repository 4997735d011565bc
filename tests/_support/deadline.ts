/**
 * Waiting with a deadline instead of sleeping: tests await the event or promise they need, and
 * fail with a clear message when it does not come in time.
 *
 * @module
 */

/** Resolves as `promise` does, or rejects after `ms` milliseconds saying what did not happen. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves with the next `type` event from `target`, or rejects after `ms` milliseconds. */
export function nextEvent(target: EventTarget, type: string, ms: number): Promise<Event> {
  let listener: ((event: Event) => void) | undefined;
  const event = new Promise<Event>((resolve) => {
    listener = resolve;
    target.addEventListener(type, resolve, { once: true });
  });
  return withDeadline(event, ms, `a "${type}" event`).finally(() => {
    if (listener !== undefined) target.removeEventListener(type, listener);
  });
}
