/**
 * An echo service for the PE library (`docs/data_channel.md`): every client byte is sent back,
 * and a state cookie goes out every so many bytes. Its state is the count of bytes echoed,
 * which the position of each cookie already says; the cookie carries it too, so that
 * `restore` can check the Cookie Echo against the position the library resumes at.
 *
 * @module
 */
import type { PeSession, PeSessionServerOptions } from "../pe_session.ts";

/** Client bytes between two cookies unless told otherwise. */
export const DEFAULT_ECHO_COOKIE_EVERY_BYTES = 4096;
/** Bytes the echo service reads at once. */
export const ECHO_READ_BYTES = 64 * 1024;

const MAGIC = Uint8Array.of(0x45, 0x43, 0x48, 0x31); // "ECH1"

/** The echo service's state: client bytes echoed since the session started. */
export interface EchoState {
  echoed: number;
}

/** Options of {@linkcode echoService}. */
export interface EchoServiceOptions {
  /** Client bytes between two cookies. @default {DEFAULT_ECHO_COOKIE_EVERY_BYTES} */
  readonly cookieEveryBytes?: number;
}

/** The cookie of an echo session that has echoed `echoed` bytes: "ECH1" and a u64. */
export function encodeEchoCookie(echoed: number): Uint8Array {
  const bytes = new Uint8Array(12);
  bytes.set(MAGIC);
  new DataView(bytes.buffer).setBigUint64(4, BigInt(echoed));
  return bytes;
}

/**
 * Decodes an echo cookie.
 *
 * @throws {TypeError} when `cookie` is not one.
 */
export function decodeEchoCookie(cookie: Uint8Array): number {
  if (cookie.length !== 12 || MAGIC.some((byte, i) => cookie[i] !== byte)) {
    throw new TypeError(
      `Cannot restore echo session: the cookie of ${cookie.length} bytes is not one`,
    );
  }
  return Number(new DataView(cookie.buffer, cookie.byteOffset, 12).getBigUint64(4));
}

/** The `restore` and `serve` of an echo service, for {@linkcode servePeSessions}. */
export function echoService(
  options: EchoServiceOptions = {},
): Pick<PeSessionServerOptions<EchoState>, "restore" | "serve"> {
  const every = options.cookieEveryBytes ?? DEFAULT_ECHO_COOKIE_EVERY_BYTES;
  if (!Number.isSafeInteger(every) || every < 1) {
    throw new RangeError(
      `Cannot create echo service as 'cookieEveryBytes' must be a positive integer: current value is ${every}`,
    );
  }
  return {
    restore(cookie: Uint8Array | undefined, session: PeSession): EchoState {
      if (cookie === undefined) return { echoed: 0 };
      const echoed = decodeEchoCookie(cookie);
      if (echoed !== session.consumed || echoed !== session.produced) {
        throw new TypeError(
          `Cannot restore echo session: the cookie says ${echoed} bytes, its position ${session.consumed}/${session.produced}`,
        );
      }
      return { echoed };
    },
    async serve(session: PeSession, state: EchoState): Promise<void> {
      const buffer = new Uint8Array(ECHO_READ_BYTES);
      let lastCookie = state.echoed;
      for (let n = await session.read(buffer); n !== null; n = await session.read(buffer)) {
        await session.write(buffer.subarray(0, n));
        state.echoed += n;
        // The state covers every byte read and written: the cookie may go now.
        if (state.echoed - lastCookie >= every) {
          lastCookie = state.echoed;
          await session.sendCookie(encodeEchoCookie(state.echoed));
        }
      }
    },
  };
}
