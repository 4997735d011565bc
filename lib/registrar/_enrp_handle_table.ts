/**
 * Folder-private: the responder's side of the handle table download (RFC 5353 §3.2.3, §3.6.3):
 * a snapshot of which PEs to send, taken at the first request, and pages cut from it by count
 * (`handleTablePageSize`) and by the 64 KiB a message can hold, the M bit set while more follow.
 * Each page reads the PEs' current values; a PE gone since the snapshot is left out (its DEL_PE
 * follows), and one added since arrives by Handle Update.
 */
import type { Handlespace, PoolElementView } from "../handlespace/mod.ts";
import { type HandleTableEntry, type PoolElementParameter, roundup4 } from "../wire/mod.ts";
import type { HandleTableSession } from "./_enrp_link.ts";
import { poolElementWireLength, transportWireLength } from "./_parameters.ts";

/** Header, sender and receiver IDs of an ENRP message. */
const ENRP_HEADER_LENGTH = 12;

/** The PEs a download sends: every PE, or (W bit) those homed at `serverId`. */
export function snapshotHandleTable(
  handlespace: Handlespace,
  ownChildrenOnly: boolean,
  serverId: number,
): HandleTableSession {
  const handles: Uint8Array[] = [];
  const ids: number[] = [];
  const add = (view: PoolElementView) => {
    handles.push(view.handle);
    ids.push(view.identifier);
  };
  if (ownChildrenOnly) {
    // ownedBy() walks slots, so PEs of one pool may be apart: group them by pool.
    const byPool = new Map<Uint8Array, PoolElementView[]>();
    for (const view of handlespace.ownedBy(serverId)) {
      let views = byPool.get(view.handle);
      if (views === undefined) {
        views = [];
        byPool.set(view.handle, views);
      }
      views.push(view);
    }
    for (const views of byPool.values()) views.forEach(add);
  } else {
    for (const pool of handlespace.pools()) {
      for (const view of pool.elements()) add(view);
    }
  }
  return { ownChildrenOnly, handles, ids, next: 0, timer: undefined };
}

/** Bytes a PE takes in a Handle Table Response, with its ASAP transport. */
function entryLength(element: PoolElementParameter): number {
  const asap = element.asapTransport;
  return poolElementWireLength(element) + (asap === undefined ? 0 : transportWireLength(asap));
}

/**
 * The next page of `session`: at most `pageSize` PEs and at most `maxLength` bytes (at least
 * one PE per page). Returns the entries and whether more follow.
 */
export function nextHandleTablePage(
  session: HandleTableSession,
  handlespace: Handlespace,
  serverId: number,
  pageSize: number,
  maxLength: number,
): { entries: HandleTableEntry[]; more: boolean } {
  const entries: HandleTableEntry[] = [];
  let length = ENRP_HEADER_LENGTH;
  let count = 0;
  let current: { poolHandle: Uint8Array; poolElements: PoolElementParameter[] } | undefined;
  const { handles, ids } = session;
  while (session.next < ids.length && count < pageSize) {
    const handle = handles[session.next]!;
    const view = handlespace.find(handle, ids[session.next]!);
    if (
      view === undefined || (session.ownChildrenOnly && view.homeRegistrarId !== serverId)
    ) {
      session.next++;
      continue;
    }
    const element = view.toParameter();
    const newPool = current === undefined || current.poolHandle !== view.handle;
    const added = entryLength(element) + (newPool ? roundup4(4 + handle.length) : 0);
    if (count > 0 && length + added > maxLength) break;
    if (newPool) {
      current = { poolHandle: view.handle, poolElements: [] };
      entries.push(current);
    }
    current!.poolElements.push(element);
    length += added;
    count++;
    session.next++;
  }
  return { entries, more: session.next < ids.length };
}
