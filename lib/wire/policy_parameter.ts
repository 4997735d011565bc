/**
 * The Pool Member Selection Policy parameter (RFC 5354 §3.8, RFC 5356 §7): a u32 policy type,
 * then the policy's u32 values. Layouts of RSPLIB's private policies follow its
 * `rserpoolmessage.h`; unknown types are kept as {@linkcode OpaqueSelectionPolicy}.
 */
import { ParameterType, PolicyType } from "./codes.ts";
import type { WireReader } from "./reader.ts";
import {
  isKnownPolicy,
  type KnownSelectionPolicy,
  type SelectionPolicy,
} from "./selection_policy.ts";
import type { WireWriter } from "./writer.ts";

const WHAT = "Pool Member Selection Policy parameter";

/**
 * How many u32 values follow the policy type, or -1 for a type Poolgate does not know.
 * 0xb0002004/5 (PLU-DPF, PLUD-DPF) have codes in RSPLIB's simulation but no wire layout in
 * RSPLIB; they take LUD-DPF's (load, degradation, load DPF, distance).
 */
export function policyValueCount(type: number): number {
  switch (type) {
    case PolicyType.roundRobin:
    case PolicyType.random:
      return 0;
    case PolicyType.weightedRoundRobin:
    case PolicyType.weightedRandom:
    case PolicyType.priority:
    case PolicyType.leastUsed:
    case PolicyType.randomizedLeastUsed:
      return 1;
    case PolicyType.leastUsedDegradation:
    case PolicyType.priorityLeastUsed:
    case PolicyType.randomizedPriorityLeastUsed:
    case PolicyType.randomizedLeastUsedDegradation:
    case PolicyType.priorityLeastUsedDegradation:
    case PolicyType.randomizedPriorityLeastUsedDegradation:
      return 2;
    case PolicyType.weightedRandomDpf:
    case PolicyType.leastUsedDpf:
      return 3;
    case PolicyType.leastUsedDegradationDpf:
    case PolicyType.priorityLeastUsedDpf:
    case PolicyType.priorityLeastUsedDegradationDpf:
      return 4;
    default:
      return -1;
  }
}

function readKnownPolicy(r: WireReader, type: number): KnownSelectionPolicy {
  switch (type) {
    case PolicyType.roundRobin:
    case PolicyType.random:
      return { type };
    case PolicyType.weightedRoundRobin:
    case PolicyType.weightedRandom:
      return { type, weight: r.u32(WHAT) };
    case PolicyType.priority:
      return { type, priority: r.u32(WHAT) };
    case PolicyType.leastUsed:
    case PolicyType.randomizedLeastUsed:
      return { type, load: r.u32(WHAT) };
    case PolicyType.leastUsedDegradation:
    case PolicyType.priorityLeastUsed:
    case PolicyType.randomizedPriorityLeastUsed:
    case PolicyType.randomizedLeastUsedDegradation:
    case PolicyType.priorityLeastUsedDegradation:
    case PolicyType.randomizedPriorityLeastUsedDegradation: {
      const load = r.u32(WHAT);
      return { type, load, loadDegradation: r.u32(WHAT) };
    }
    case PolicyType.weightedRandomDpf: {
      const weight = r.u32(WHAT);
      const weightDpf = r.u32(WHAT);
      return { type, weight, weightDpf, distance: r.u32(WHAT) };
    }
    case PolicyType.leastUsedDpf: {
      const load = r.u32(WHAT);
      const loadDpf = r.u32(WHAT);
      return { type, load, loadDpf, distance: r.u32(WHAT) };
    }
    case PolicyType.leastUsedDegradationDpf:
    case PolicyType.priorityLeastUsedDpf:
    case PolicyType.priorityLeastUsedDegradationDpf: {
      const load = r.u32(WHAT);
      const loadDegradation = r.u32(WHAT);
      const loadDpf = r.u32(WHAT);
      return { type, load, loadDegradation, loadDpf, distance: r.u32(WHAT) };
    }
    default:
      return r.fail(WHAT, `unknown policy type ${type}`);
  }
}

/**
 * Reads the policy parameter at the cursor. A known type must have exactly its values (Invalid
 * Values otherwise); an unknown type keeps its value bytes (a copy).
 *
 * @throws {WireError}
 */
export function readSelectionPolicy(r: WireReader): SelectionPolicy {
  const outer = r.enterParameter(WHAT);
  const type = r.u32(WHAT);
  const count = policyValueCount(type);
  let policy: SelectionPolicy;
  if (count < 0) {
    policy = { type, opaque: r.rest().slice() };
  } else {
    if (r.remaining() !== 4 * count) {
      r.fail(
        WHAT,
        `length ${r.remaining() + 8} does not fit policy type 0x${
          type.toString(16).padStart(8, "0")
        }, which needs ${8 + 4 * count}`,
        r.offset - 6,
      );
    }
    policy = readKnownPolicy(r, type);
  }
  r.leaveParameter(outer, WHAT);
  return policy;
}

/**
 * Writes a Pool Member Selection Policy parameter.
 *
 * @throws {RangeError} when a value is not a u32.
 */
export function writeSelectionPolicy(w: WireWriter, policy: SelectionPolicy): void {
  const mark = w.beginParameter(ParameterType.poolMemberSelectionPolicy);
  w.u32(policy.type, "policy type");
  if (!isKnownPolicy(policy)) {
    w.bytes(policy.opaque);
  } else {
    switch (policy.type) {
      case PolicyType.roundRobin:
      case PolicyType.random:
        break;
      case PolicyType.weightedRoundRobin:
      case PolicyType.weightedRandom:
        w.u32(policy.weight, "policy weight");
        break;
      case PolicyType.priority:
        w.u32(policy.priority, "policy priority");
        break;
      case PolicyType.leastUsed:
      case PolicyType.randomizedLeastUsed:
        w.u32(policy.load, "policy load");
        break;
      case PolicyType.weightedRandomDpf:
        w.u32(policy.weight, "policy weight");
        w.u32(policy.weightDpf, "policy weight DPF");
        w.u32(policy.distance, "policy distance");
        break;
      case PolicyType.leastUsedDpf:
        w.u32(policy.load, "policy load");
        w.u32(policy.loadDpf, "policy load DPF");
        w.u32(policy.distance, "policy distance");
        break;
      case PolicyType.leastUsedDegradationDpf:
      case PolicyType.priorityLeastUsedDpf:
      case PolicyType.priorityLeastUsedDegradationDpf:
        w.u32(policy.load, "policy load");
        w.u32(policy.loadDegradation, "policy load degradation");
        w.u32(policy.loadDpf, "policy load DPF");
        w.u32(policy.distance, "policy distance");
        break;
      default:
        w.u32(policy.load, "policy load");
        w.u32(policy.loadDegradation, "policy load degradation");
    }
  }
  w.endParameter(mark, WHAT);
}
