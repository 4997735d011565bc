/**
 * Round Robin (RFC 5356 §4.1): the members form a circular list with a head; a selection
 * returns members starting at the head, then the head advances by one element.
 */
import { PolicyType } from "../../wire/codes.ts";
import type { KnownSelectionPolicy } from "../../wire/selection_policy.ts";
import type { ElementStore } from "../_store.ts";
import type { SelectionContext } from "../_selection_context.ts";
import { DenseSelector } from "./_dense.ts";
import type { PolicyDefinition } from "./policy.ts";

/** Round robin over the dense member array. */
class RoundRobinSelector extends DenseSelector {
  #head = 0;

  /** Members from the head on, skipping ineligible ones; the head advances by one. */
  select(count: number, ctx: SelectionContext): number {
    const size = this.size;
    if (size === 0) return 0;
    const members = this.slots;
    const out = ctx.out;
    let head = this.#head;
    if (head >= size) head = 0;
    let written = 0;
    let i = head;
    for (let seen = 0; seen < size && written < count; seen++) {
      const slot = members[i]!;
      if (ctx.eligible(slot)) out[written++] = slot;
      if (++i === size) i = 0;
    }
    this.#head = head + 1 === size ? 0 : head + 1;
    return written;
  }

  /** Removes a member; when the head's element moves into the hole, the head follows it. */
  override remove(slot: number): void {
    const i = this.store.pos[slot]!;
    const last = this.size - 1;
    super.remove(slot);
    if (this.#head === last) this.#head = i;
  }
}

/** Round Robin (0x00000001). */
export const roundRobin: PolicyDefinition = {
  type: PolicyType.roundRobin,
  name: "RoundRobin",
  value1: () => 0,
  value2: () => 0,
  toPolicy: (): KnownSelectionPolicy => ({ type: PolicyType.roundRobin }),
  createSelector: (store: ElementStore) => new RoundRobinSelector(store),
};
