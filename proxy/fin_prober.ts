/**
 * Tells a crashed pool element's FIN from a deliberate close with a connect probe, one probe at a
 * time per pool element: every FIN received before a probe starts is answered by that probe, so
 * a server that closes after each answer (HTTP `Connection: close`) costs one probe per
 * probe duration, not one per session.
 *
 * @module
 */
import { isPeerGone } from "../lib/transport/is_peer_gone.ts";
import { type Connector, connectWithin, type PeConnection } from "./connector.ts";
import type { Deadlines } from "./deadlines.ts";
import type { PoolMemberAddress } from "./member_source.ts";
import type { ResolvedPoolSettings } from "./settings.ts";

/** The settings a probe runs with. */
export type FinProbeSettings = Pick<ResolvedPoolSettings, "connectTimeoutMs" | "finProbeSettleMs">;

interface ProbeState {
  /** The probe under way; it started before any FIN that arrives now. */
  running: Promise<boolean> | undefined;
  /** The probe that starts when `running` ends, for FINs that arrived after it started. */
  queued: Promise<boolean> | undefined;
}

/** Confirms pool element FINs with connect probes, coalesced per pool element address. */
export class FinProber {
  readonly #connect: Connector;
  readonly #deadlines: Deadlines;
  readonly #states = new Map<string, ProbeState>();

  /** Probes with `connect`, timing the connects out on `deadlines`' timer. */
  constructor(connect: Connector, deadlines: Deadlines) {
    this.#connect = connect;
    this.#deadlines = deadlines;
  }

  /**
   * Resolves true when the pool element is dead: a probe that started after this call was
   * refused, timed out, or reset right after its handshake. Never rejects.
   */
  isDead(member: PoolMemberAddress, settings: FinProbeSettings): Promise<boolean> {
    const key = `${member.hostname}\u0000${member.port}`;
    let state = this.#states.get(key);
    if (state === undefined) {
      state = { running: undefined, queued: undefined };
      this.#states.set(key, state);
    }
    const { running } = state;
    if (running === undefined) return this.#start(key, state, member, settings);
    const current = state;
    current.queued ??= running.then(() => {
      current.queued = undefined;
      return this.#start(key, current, member, settings);
    });
    return current.queued;
  }

  #start(
    key: string,
    state: ProbeState,
    member: PoolMemberAddress,
    settings: FinProbeSettings,
  ): Promise<boolean> {
    const running = this.#probe(member, settings).finally(() => {
      if (state.running !== running) return;
      state.running = undefined;
      if (state.queued === undefined) this.#states.delete(key);
    });
    state.running = running;
    return running;
  }

  async #probe(member: PoolMemberAddress, settings: FinProbeSettings): Promise<boolean> {
    let probe: PeConnection;
    try {
      probe = await connectWithin(
        this.#connect,
        member.hostname,
        member.port,
        settings.connectTimeoutMs,
        this.#deadlines,
      );
    } catch {
      return true;
    }
    // A dying process's listener may have queued the probe just before it closed: then a
    // reset follows at once. Data, an EOF or silence mean someone is serving.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settled = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), settings.finProbeSettleMs);
    });
    const reset = probe.read(new Uint8Array(1)).then(() => false, (error) => isPeerGone(error));
    try {
      return await Promise.race([reset, settled]);
    } finally {
      clearTimeout(timer);
      try {
        probe.close();
      } catch {
        // Reset and closed already.
      }
    }
  }
}
