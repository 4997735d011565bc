/**
 * An in-memory {@linkcode ByteStream} for transport tests: reads hand out scripted chunks, writes
 * are recorded and can be held back to play a peer that does not read.
 *
 * @module
 */
import type { ByteStream } from "../../../lib/transport/byte_stream.ts";

/** Options of a {@linkcode ScriptedStream}. */
export interface ScriptedStreamOptions {
  /** After the last chunk, end the stream (read → null) instead of waiting for close(). @default {true} */
  endAfterChunks?: boolean;
  /** Hold every write until {@linkcode ScriptedStream.releaseWrites}. @default {false} */
  holdWrites?: boolean;
}

/** A scripted byte stream; its peer is 192.0.2.1:3863. */
export class ScriptedStream implements ByteStream {
  /** Everything written so far, one entry per write call. */
  readonly written: Uint8Array[] = [];
  readonly localAddr: Deno.NetAddr = { transport: "tcp", hostname: "192.0.2.2", port: 40000 };
  readonly remoteAddr: Deno.NetAddr = { transport: "tcp", hostname: "192.0.2.1", port: 3863 };
  readonly #chunks: Uint8Array[];
  readonly #endAfterChunks: boolean;
  #holdWrites: boolean;
  #closed = false;
  readonly #pending = new Set<PromiseWithResolvers<number | null>>();
  readonly #heldWrites: { data: Uint8Array; done: PromiseWithResolvers<number> }[] = [];

  /** Reads will return `chunks` in order, each split further if the reader's buffer is smaller. */
  constructor(chunks: Uint8Array[], options: ScriptedStreamOptions = {}) {
    this.#chunks = chunks.map((chunk) => chunk.slice());
    this.#endAfterChunks = options.endAfterChunks ?? true;
    this.#holdWrites = options.holdWrites ?? false;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Writes waiting to be released. */
  get heldWrites(): number {
    return this.#heldWrites.length;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("closed"));
    const chunk = this.#chunks.shift();
    if (chunk === undefined) {
      if (this.#endAfterChunks) return Promise.resolve(null);
      const pending = Promise.withResolvers<number | null>();
      this.#pending.add(pending);
      return pending.promise;
    }
    const count = Math.min(chunk.length, buffer.length);
    buffer.set(chunk.subarray(0, count));
    if (count < chunk.length) this.#chunks.unshift(chunk.subarray(count));
    return Promise.resolve(count);
  }

  write(data: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("closed"));
    if (!this.#holdWrites) {
      this.written.push(data.slice());
      return Promise.resolve(data.length);
    }
    const done = Promise.withResolvers<number>();
    this.#heldWrites.push({ data, done });
    return done.promise;
  }

  /** Completes the held writes and lets later ones through at once. */
  releaseWrites(): void {
    this.#holdWrites = false;
    for (const { data, done } of this.#heldWrites.splice(0)) {
      this.written.push(data.slice());
      done.resolve(data.length);
    }
  }

  closeWrite(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("closed");
    this.#closed = true;
    for (const pending of this.#pending) pending.reject(new Deno.errors.BadResource("closed"));
    for (const { done } of this.#heldWrites.splice(0)) {
      done.reject(new Deno.errors.BadResource("closed"));
    }
  }
}
