/**
 * The StreamTransport over pnet: names resolve with the stack's DNS resolver,
 * bytes cross the stack's TCP, timeouts run on the stack's Clock (so a
 * simulation in virtual time stays deterministic).
 */
import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { Ipv4Address, tryParseIpv4 } from '@pnet/tcpip';
import { createStreamTransport, PnetStreamTransport, RawStreams, TransportOptions, whenConnected } from './stream-transport';

/**
 * The part of `@pnet/tcpip`'s Stack this transport uses (see packages/tcpip/DESIGN.md).
 * Structural, so any Stack with these members fits; addresses are the stack's
 * Ipv4Address (a uint32).
 */
export interface StackForTransport {
  tcp: {
    connect(options: { host: Ipv4Address; port: number }): Duplex;
    listen(options: { port: number; address?: Ipv4Address }): StackTcpServer;
  };
  /** The resolver; only needed to connect by name. */
  dns?: { resolve(name: string): Promise<Ipv4Address[]> };
  clock?: TransportClock;
}

export interface StackTcpServer extends EventEmitter {
  close(callback?: () => void): unknown;
  readonly port?: number;
  readonly localPort?: number;
  address?(): { port: number } | null | unknown;
}

/** The Clock members used for timeouts (`@pnet/nic`'s Clock fits). */
export interface TransportClock {
  now(): number;
  schedule(at: number, fn: (arg: number) => void, arg?: number): number;
  cancel(handle: number): void;
}

export interface StackTransportOptions extends TransportOptions {
  /** Clock for connect and handshake timeouts; default `stack.clock`, else Node timers (unref'd). */
  clock?: TransportClock;
}

function coded(message: string, code: string, cause?: unknown): Error {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code });
}

/** Connects to one address; resolves on 'connect', rejects on 'error', an early 'close', or abort. */
function connectOne(stack: StackForTransport, address: Ipv4Address, port: number, signal: AbortSignal): Promise<Duplex> {
  let socket: Duplex;
  try {
    socket = stack.tcp.connect({ host: address, port });
  } catch (err) {
    return Promise.reject(err);
  }
  return whenConnected(socket, signal, () => coded('connection closed before it was established', 'ECONNRESET'));
}

/** A StreamTransport over pnet's TCP and DNS resolver. */
export function stackTransport(stack: StackForTransport, options: StackTransportOptions = {}): PnetStreamTransport {
  if (!stack || !stack.tcp) throw new TypeError('stackTransport: needs a Stack with tcp');
  const clock = options.clock ?? stack.clock;

  const raw: RawStreams = {
    async open(host, port, signal) {
      let addresses: Ipv4Address[];
      const literal = tryParseIpv4(host);
      if (literal !== null) {
        addresses = [literal];
      } else {
        // Looked up at use: a stack that only serves, or only connects to addresses, needs no resolver.
        if (!stack.dns) throw coded(`cannot resolve ${host}: the stack has no resolver (stack.dns)`, 'ENOTFOUND');
        try {
          addresses = await stack.dns.resolve(host);
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          throw coded(`cannot resolve ${host}: ${(err as Error).message}`, typeof code === 'string' ? code : 'ENOTFOUND', err);
        }
        if (signal.aborted) throw signal.reason;
        if (!addresses || addresses.length === 0) throw coded(`cannot resolve ${host}: no address`, 'ENOTFOUND');
      }
      // Try each address in turn, like the kernel's getaddrinfo order; the first error is the one reported.
      let firstError: unknown;
      for (const address of addresses) {
        try {
          return await connectOne(stack, address, port, signal);
        } catch (err) {
          if (signal.aborted) throw signal.reason;
          firstError ??= err;
        }
      }
      throw firstError;
    },

    async listen(port, host, onStream) {
      let address: Ipv4Address | undefined;
      if (host !== undefined) {
        const parsed = tryParseIpv4(host);
        if (parsed === null) throw new TypeError(`listen: host must be a dotted-quad IPv4 address on pnet, got ${JSON.stringify(host)}`);
        address = parsed;
      }
      const server = stack.tcp.listen(address === undefined ? { port } : { port, address });
      server.on('connection', (socket: Duplex) => onStream(socket));
      server.on('error', () => {}); // an accept failure must not take the listener down
      const bound = server.localPort ?? server.port ?? (server.address?.() as { port?: number } | null)?.port ?? port;
      return {
        port: bound,
        close: async () => {
          const r = server.close();
          if (r && typeof (r as Promise<void>).then === 'function') await r;
        },
      };
    },

    timer(ms, fn) {
      if (clock) {
        const handle = clock.schedule(clock.now() + ms, () => fn());
        return () => clock.cancel(handle);
      }
      const t = setTimeout(fn, ms);
      t.unref();
      return () => clearTimeout(t);
    },
  };
  return createStreamTransport(raw, options);
}
