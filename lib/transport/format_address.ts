/**
 * Formats a socket address for logs and errors: "HOST:PORT", with IPv6 hosts in brackets
 * ("[::1]:3863"), the path for Unix sockets, and "vsock:CID:PORT" for VSOCK.
 */
export function formatAddress(addr: Deno.Addr): string {
  switch (addr.transport) {
    case "tcp":
    case "udp":
      return addr.hostname.includes(":")
        ? `[${addr.hostname}]:${addr.port}`
        : `${addr.hostname}:${addr.port}`;
    case "unix":
    case "unixpacket":
      return addr.path;
    case "vsock":
      return `vsock:${addr.cid}:${addr.port}`;
  }
}
