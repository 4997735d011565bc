/**
 * Whether this test process itself still listens on a TCP port, read from /proc (Linux). A test
 * that must show a listener was closed cannot rely on a refused connect: in the parallel suite
 * another test process may bind the freed port at once.
 *
 * @module
 */

/** Inodes of the sockets this process has open. */
function ownSocketInodes(): Set<string> {
  const inodes = new Set<string>();
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    try {
      const target = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode !== undefined) inodes.add(inode);
    } catch {
      // Closed while we looked.
    }
  }
  return inodes;
}

/** True while this process has a listening TCP socket (IPv4 or IPv6) on `port`. */
function listensOn(port: number): boolean {
  const own = ownSocketInodes();
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(table);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is HOST:PORT in hex, st 0A is LISTEN, inode is the tenth field.
      if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === "0A" && own.has(fields[9] ?? "")) {
        return true;
      }
    }
  }
  return false;
}

/** Resolves once this process no longer listens on `port`; rejects after `ms`. */
export async function closedWithin(port: number, ms: number): Promise<void> {
  const until = performance.now() + ms;
  // The socket goes when the runtime drops the cancelled accept, a turn of the event loop later.
  while (listensOn(port)) {
    if (performance.now() > until) {
      throw new Error(`This process still listens on port ${port} after ${ms} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
