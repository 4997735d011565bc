/**
 * Captures the transport's LogTape records for assertions; disposing restores LogTape's
 * unconfigured state.
 *
 * @module
 */
import { configure, type LogRecord, reset } from "@logtape/logtape";

/** The records logged under ["poolgate", "transport"] while it is in use. */
export interface LogCapture extends AsyncDisposable {
  readonly records: LogRecord[];
}

/** Starts capturing every transport record, debug level included. */
export async function captureTransportLogs(): Promise<LogCapture> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { capture: (record) => records.push(record) },
    loggers: [
      { category: ["poolgate", "transport"], sinks: ["capture"], lowestLevel: "debug" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "error" },
    ],
  });
  return { records, [Symbol.asyncDispose]: () => reset() };
}
