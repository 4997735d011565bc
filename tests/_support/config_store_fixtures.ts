/**
 * Records and temporary data directories for the config store tests and for the
 * writer child process they start.
 *
 * @module
 */
import type {
  ListenerRecord,
  PoolSettingsRecord,
  StaticMemberRecord,
} from "../../proxy/config_store.ts";

/** A static member of `pool` with a connect check and round robin. */
export function sampleMember(pool: string, peId: number): StaticMemberRecord {
  return {
    pool,
    peId,
    hostname: "127.0.0.1",
    port: 10_000 + (peId % 50_000),
    transportUse: "data-only",
    policy: { name: "rr" },
    check: { kind: "connect" },
    drain: false,
    maintenance: false,
  };
}

/** Pool settings for `pool` that leave every field but failover to the defaults. */
export function samplePoolSettings(pool: string): PoolSettingsRecord {
  return { pool, failover: "migrate" };
}

/** A tcp listener `id` on 127.0.0.1 forwarding to `pool`. */
export function sampleListener(id: string, pool: string, port = 8080): ListenerRecord {
  return { id, kind: "tcp", hostname: "127.0.0.1", port, pool, acceptProxyProtocol: false };
}

/** A temporary data directory, removed with everything in it on dispose. */
export interface TempDataDir extends Disposable {
  /** The directory (not yet created: the store must create it). */
  readonly dataDir: string;
  /** Where the store keeps its file. */
  readonly file: string;
}

/** Makes a fresh parent directory and names a data directory inside it that does not exist. */
export function tempDataDir(): TempDataDir {
  const parent = Deno.makeTempDirSync({ prefix: "poolgate_config_store_" });
  const dataDir = `${parent}/state/poolgate`;
  return {
    dataDir,
    file: `${dataDir}/poolgate.sqlite`,
    [Symbol.dispose]: () => Deno.removeSync(parent, { recursive: true }),
  };
}
