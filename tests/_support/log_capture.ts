/**
 * Captures Poolgate's LogTape records for assertions; disposing restores LogTape's unconfigured
 * state, so each test that looks at logs sets them up the same way.
 *
 * @module
 */
import { configure, type LogLevel, type LogRecord, reset } from "@logtape/logtape";

/** The records logged while the capture is in use. */
export interface LogCapture extends AsyncDisposable {
  readonly records: LogRecord[];
}

/** Starts capturing the "poolgate" records from `lowestLevel` up, and LogTape's own errors. */
export async function capturePoolgateLogs(lowestLevel: LogLevel = "info"): Promise<LogCapture> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: ["poolgate"], lowestLevel, sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: ["memory"] },
    ],
  });
  return { records, [Symbol.asyncDispose]: () => reset() };
}
