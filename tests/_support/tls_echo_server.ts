/**
 * TLS-speaking pool elements for the front listener tests: a self-signed certificate made by
 * `openssl req -x509` in a temporary directory at test time, and an in-process TLS echo server
 * that terminates TLS with it. A client that completes its handshake against this certificate
 * has talked to the pool element itself, which proves that the proxy passed the TLS bytes on
 * untouched.
 *
 * @module
 */

/** A certificate and its key, as PEM text and as files. */
export interface SelfSignedCertificate extends AsyncDisposable {
  /** The certificate, PEM. */
  readonly cert: string;
  /** The private key, PEM. */
  readonly key: string;
  /** Path of the certificate file (for `openssl s_client -CAfile`). */
  readonly certFile: string;
  /** Path of the key file. */
  readonly keyFile: string;
}

/**
 * Makes a one-day self-signed P-256 certificate for `names` (the first is the subject's CN, all
 * are DNS subjectAltNames) with `openssl req -x509`; disposing it removes the directory.
 */
export async function createSelfSignedCertificate(
  names: readonly string[],
): Promise<SelfSignedCertificate> {
  const dir = await Deno.makeTempDir({ prefix: "poolgate_tls_" });
  const certFile = `${dir}/cert.pem`;
  const keyFile = `${dir}/key.pem`;
  const dispose = () => Deno.remove(dir, { recursive: true });
  try {
    const { success, stderr } = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        `/CN=${names[0]}`,
        "-addext",
        `subjectAltName=${names.map((name) => `DNS:${name}`).join(",")}`,
        // A server certificate, not a CA: rustls refuses a CA certificate as the end entity.
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-addext",
        "extendedKeyUsage=serverAuth",
        "-keyout",
        keyFile,
        "-out",
        certFile,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!success) {
      throw new Error(`openssl req -x509 failed: ${new TextDecoder().decode(stderr)}`);
    }
    return {
      cert: await Deno.readTextFile(certFile),
      key: await Deno.readTextFile(keyFile),
      certFile,
      keyFile,
      [Symbol.asyncDispose]: dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** A running TLS echo server; disposing it closes the listener and every connection. */
export interface TlsEchoServer extends AsyncDisposable {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** TLS connections whose handshake completed. */
  readonly handshakes: number;
}

/**
 * Starts a TLS server on 127.0.0.1 port 0 with `certificate` that echoes every byte after the
 * handshake and closes when its client does.
 */
export function startTlsEchoServer(certificate: SelfSignedCertificate): TlsEchoServer {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: certificate.cert,
    key: certificate.key,
  });
  const open = new Set<Deno.TlsConn>();
  const handlers = new Set<Promise<void>>();
  let handshakes = 0;
  const echo = async (conn: Deno.TlsConn) => {
    try {
      await conn.handshake();
      handshakes += 1;
      const buffer = new Uint8Array(16 * 1024);
      for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
        for (let written = 0; written < n;) {
          written += await conn.write(buffer.subarray(written, n));
        }
      }
    } catch {
      // A client that fails its handshake or goes away ends only its own connection.
    } finally {
      open.delete(conn);
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  };
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        open.add(conn);
        const handler = echo(conn).finally(() => handlers.delete(handler));
        handlers.add(handler);
      }
    } catch {
      // The listener was closed.
    }
  })();
  return {
    port: listener.addr.port,
    get handshakes() {
      return handshakes;
    },
    async [Symbol.asyncDispose]() {
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      await loop;
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // Closed meanwhile.
        }
      }
      await Promise.all([...handlers]);
    },
  };
}
