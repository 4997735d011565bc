/**
 * The byte stream the transport reads and writes: `Deno.Conn`'s own shape (TCP or TLS), kept
 * structural so that tests and other transports can stand in for it. Web streams stay out of this
 * path because they cost several times more CPU per message in Deno (shared/DESIGN.md).
 */
export interface ByteStream {
  /** Reads into `buffer`; resolves to the byte count, or null at end of stream. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes from `data`; resolves to the byte count written, which may be less than its length. */
  write(data: Uint8Array): Promise<number>;
  /** Half-closes: no more writes, reads still possible. */
  closeWrite(): Promise<void>;
  /** Closes both directions and makes pending reads and writes reject. */
  close(): void;
  /** The local address. */
  readonly localAddr: Deno.Addr;
  /** The peer's address. */
  readonly remoteAddr: Deno.Addr;
}
