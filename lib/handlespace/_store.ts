/**
 * Folder-private: the struct-of-arrays storage of every pool element of a handlespace.
 *
 * A pool element is a *slot* number; each of its fields is one entry of a typed array. Typed
 * arrays keep the per-PE cost near 100 bytes (a PE as a tree of small objects costs about twice
 * that in V8), and keep the hot fields of the selection policies next to each other.
 */

/** Slot storage with a free list; fields are public for the folder's hot paths. */
export class ElementStore {
  /** Slots allocated in every array. */
  capacity = 0;
  /** Slots in use. */
  count = 0;
  /** Head of the free-slot list (linked through {@linkcode ElementStore.pos}); -1 when empty. */
  freeHead = -1;
  /** Slots ever handed out (slots at or above this are untouched). */
  highWater = 0;
  /** The next heap ticket: unique in the handlespace, increasing. */
  nextTicket = 1;

  /** PE identifier. */
  id = new Uint32Array(0);
  /** Index of the owning pool; -1 for a free slot. */
  pool = new Int32Array(0);
  /** Index into the registrar table of the PE's home registrar. */
  home = new Uint16Array(0);
  /** Registration life in milliseconds; -1 is infinite. */
  life = new Int32Array(0);
  /** Time of the last (re-)registration, milliseconds. */
  updated = new Float64Array(0);
  /** Time the registration life runs out, milliseconds; Infinity for an infinite life. */
  expiry = new Float64Array(0);
  /** Endpoint Unreachable reports since the last (re-)registration (saturates at 65535). */
  unreachable = new Uint16Array(0);
  /** First policy value: weight, priority or load. */
  value1 = new Uint32Array(0);
  /** Second policy value: load degradation. */
  value2 = new Uint32Array(0);
  /** Policy state: LUD degradation counter, WRR selections of the current schedule. */
  state = new Float64Array(0);
  /** Policy state: WRR virtual time at which the PE's schedule started. */
  base = new Float64Array(0);
  /** Position in the pool selector's member array or heap; next free slot when the slot is free. */
  pos = new Int32Array(0);
  /** Ticket of the slot's live entry in its pool's ordered-policy heap (see `_heap.ts`). */
  ticket = new Float64Array(0);
  /** Ticket of the slot's live entry in the handlespace's expiry heap. */
  expiryTicket = new Float64Array(0);
  /** User transport parameter type, 0 when the transport is kept whole in `extraTransport`. */
  transport = new Uint8Array(0);
  /** User transport's transport-use. */
  transportUse = new Uint8Array(0);
  /** User transport's port. */
  port = new Uint16Array(0);
  /** User transport's IPv4 address as an unsigned 32-bit number. */
  ipv4 = new Uint32Array(0);

  /** Takes a free slot (growing the arrays when none is left) and marks it used. */
  allocate(): number {
    let slot = this.freeHead;
    if (slot >= 0) {
      this.freeHead = this.pos[slot]!;
    } else {
      if (this.highWater === this.capacity) this.#grow();
      slot = this.highWater++;
    }
    this.count++;
    return slot;
  }

  /** Returns a slot to the free list. */
  release(slot: number): void {
    this.pool[slot] = -1;
    this.ticket[slot] = -1;
    this.expiryTicket[slot] = -1;
    this.pos[slot] = this.freeHead;
    this.freeHead = slot;
    this.count--;
  }

  #grow(): void {
    // ×1.5 rather than ×2: the arrays dominate the memory per PE.
    const size = this.capacity === 0 ? 64 : this.capacity + (this.capacity >> 1);
    this.id = grow(this.id, new Uint32Array(size));
    this.pool = grow(this.pool, new Int32Array(size));
    this.home = grow(this.home, new Uint16Array(size));
    this.life = grow(this.life, new Int32Array(size));
    this.updated = grow(this.updated, new Float64Array(size));
    this.expiry = grow(this.expiry, new Float64Array(size));
    this.unreachable = grow(this.unreachable, new Uint16Array(size));
    this.value1 = grow(this.value1, new Uint32Array(size));
    this.value2 = grow(this.value2, new Uint32Array(size));
    this.state = grow(this.state, new Float64Array(size));
    this.base = grow(this.base, new Float64Array(size));
    this.pos = grow(this.pos, new Int32Array(size));
    this.ticket = grow(this.ticket, new Float64Array(size));
    this.expiryTicket = grow(this.expiryTicket, new Float64Array(size));
    this.transport = grow(this.transport, new Uint8Array(size));
    this.transportUse = grow(this.transportUse, new Uint8Array(size));
    this.port = grow(this.port, new Uint16Array(size));
    this.ipv4 = grow(this.ipv4, new Uint32Array(size));
    this.capacity = size;
  }
}

/** Copies `old` into the front of `next` and returns `next`. */
export function grow<T extends { set(array: ArrayLike<number>): void }>(
  old: ArrayLike<number>,
  next: T,
): T {
  next.set(old);
  return next;
}

/** `array` with room for at least `size + 1` entries: itself, or a copy twice as long. */
export function withRoom(array: Int32Array<ArrayBuffer>, size: number): Int32Array<ArrayBuffer> {
  if (size < array.length) return array;
  return grow(array, new Int32Array(Math.max(4, array.length * 2)));
}
