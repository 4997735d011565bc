/// <reference lib="deno.worker" />
/** The worker side of {@linkcode runFuzz}: checks inputs and reports the first failure. */
import { toHex } from "./_wireshark_fields.ts";
import {
  checkInput,
  fuzzInput,
  type FuzzReport,
  HEARTBEAT_EVERY,
  PROGRESS_HEARTBEAT,
  PROGRESS_INDEX,
  type WorkerRequest,
} from "./fuzzing.ts";

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const { seed, inputs, seconds, progress } = event.data;
  const shared = new Int32Array(progress);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let accepted = 0;
  let index = 0;
  let failure: FuzzReport["failure"];
  for (; index < inputs; index++) {
    Atomics.store(shared, PROGRESS_INDEX, index);
    if (index % HEARTBEAT_EVERY === 0) {
      Atomics.add(shared, PROGRESS_HEARTBEAT, 1);
      Atomics.notify(shared, PROGRESS_HEARTBEAT);
      if (performance.now() > deadline) break;
    }
    const { bytes } = fuzzInput(seed, index);
    const outcome = checkInput(bytes);
    if (typeof outcome === "string") {
      failure = { index, hex: toHex(bytes), reason: outcome };
      index++;
      break;
    }
    if (outcome) accepted++;
  }
  const report: FuzzReport = {
    seed,
    inputs: index,
    accepted,
    seconds: (performance.now() - started) / 1000,
    ...(failure === undefined ? {} : { failure }),
  };
  self.postMessage(report);
};
