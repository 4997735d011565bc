/**
 * Waits `ms` milliseconds, or less when `signal` aborts; never rejects, and leaves no timer
 * behind either way. For back-off and check intervals that shutdown must cut short.
 */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
