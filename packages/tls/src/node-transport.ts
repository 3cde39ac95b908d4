/**
 * The StreamTransport over the kernel's TCP (node:net): for tests of the layers
 * above without pnet's stack, and as the benchmark anchor.
 */
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type { TransportClock } from './stack-transport';
import { createStreamTransport, PnetStreamTransport, TransportOptions, whenConnected } from './stream-transport';

export interface NodeTransportOptions extends TransportOptions {
  /** Clock for connect and handshake timeouts (default: Node timers, unref'd). Tests inject one to fire timeouts on cue. */
  clock?: TransportClock;
}

async function open(host: string, port: number, signal: AbortSignal): Promise<Duplex> {
  const socket = await whenConnected(net.connect({ host, port }), signal);
  (socket as net.Socket).setNoDelay(true);
  return socket;
}

function listen(port: number, host: string | undefined, onStream: (s: Duplex) => void): Promise<{ port: number; close(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      socket.setNoDelay(true);
      onStream(socket);
    });
    server.once('error', reject);
    server.listen({ port, host }, () => {
      server.removeListener('error', reject);
      // Accept errors on a listening server (EMFILE...) must not kill the process.
      server.on('error', () => {});
      const address = server.address() as net.AddressInfo;
      resolve({
        port: address.port,
        // Resolves once the listening socket is closed; accepted connections live on.
        close: () => new Promise<void>((r) => {
          if (!server.listening) return r();
          server.close();
          setImmediate(r);
        }),
      });
    });
  });
}

function nodeTimer(ms: number, fn: () => void): () => void {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
}

/** A StreamTransport over the kernel's TCP and resolver (node:net). */
export function nodeTransport(options: NodeTransportOptions = {}): PnetStreamTransport {
  const clock = options.clock;
  const timer = clock
    ? (ms: number, fn: () => void) => {
      const handle = clock.schedule(clock.now() + ms, () => fn());
      return () => clock.cancel(handle);
    }
    : nodeTimer;
  return createStreamTransport({ open, listen, timer }, options);
}
