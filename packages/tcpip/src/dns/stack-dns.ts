/**
 * DNS over the Stack: a transport on `stack.udp` (and `stack.tcp` when TCP is
 * attached), the resolver hooked in as `stack.dns`, and the server bound to
 * port 53 of the stack.
 */
import type { Stack } from '../iface/stack';
import { Ipv4Address, tryParseIpv4 } from '../wire/ipv4-address';
import { DnsResolver, DnsResolverOptions } from './resolver';
import { DnsServer, DnsServerTransport } from './server';
import type { DnsDatagramSocket, DnsStream, DnsStreamListener } from './transport';

/** The part of a Node-like TCP socket (a Duplex) the DNS code uses. */
interface StreamLike {
  write(data: Uint8Array): unknown;
  end(): unknown;
  destroy(): unknown;
  on(event: 'data', l: (chunk: Uint8Array) => void): unknown;
  on(event: 'close', l: () => void): unknown;
  on(event: 'error', l: (e: Error) => void): unknown;
}
/** The part of `stack.tcp` the DNS code uses (the TCP layer's connect/listen). */
interface TcpLike {
  connect(opts: { host: Ipv4Address; port: number }): StreamLike;
  listen(opts: { port: number }): { on(event: 'connection', l: (s: StreamLike & { remoteAddress?: unknown; remotePort?: unknown }) => void): unknown; close(): unknown };
}

function wrapStream(s: StreamLike): DnsStream {
  let closeListener: ((e?: Error) => void) | null = null;
  let closed = false;
  let error: Error | undefined;
  const finish = (): void => {
    if (closed) return;
    closed = true;
    closeListener?.(error);
  };
  s.on('error', (e) => { error = e; });
  s.on('close', finish);
  return {
    write: (data) => { s.write(data); },
    onData: (l) => { s.on('data', (chunk) => l(chunk)); },
    onClose: (l) => { closeListener = l; },
    close: () => { if (!closed) s.destroy(); },
  };
}

/** A DNS transport on a stack's UDP (and TCP, when `stack.tcp` is attached). */
export function stackDnsTransport(stack: Stack): DnsServerTransport {
  const tcp = (): TcpLike | null => {
    const t = (stack as { tcp?: unknown }).tcp as TcpLike | undefined;
    return t && typeof t.connect === 'function' ? t : null;
  };
  const transport: DnsServerTransport = {
    openUdp(port: number): DnsDatagramSocket {
      const sock = stack.udp.bind({ port });
      return {
        localPort: sock.localPort,
        send(data, dport, address) {
          const r = sock.send(data, dport, address);
          if (r !== 'sent' && r !== 'queued') throw new Error(`DNS: UDP send failed: ${r}`);
        },
        onMessage(l) {
          sock.on('message', (data, rinfo) => l(data, { address: rinfo.address, port: rinfo.port }));
        },
        onUnreachable(l) {
          sock.on('icmpError', (e) => { if (e.kind !== 'fragmentation-needed') l({ address: e.address, port: e.port }); });
        },
        close() { sock.close(); },
      };
    },
  };
  // TCP is looked up at use time: it may be attached after DNS.
  transport.connectTcp = (address: Ipv4Address, port: number): DnsStream | null => {
    const t = tcp();
    if (!t) return null; // no TCP attached: the resolver keeps the truncated answer
    return wrapStream(t.connect({ host: address, port }));
  };
  transport.listenTcp = (port: number): DnsStreamListener => {
    const t = tcp();
    if (!t) return { onConnection: () => undefined, close: () => undefined };
    const server = t.listen({ port });
    return {
      onConnection(l) {
        server.on('connection', (s) => {
          const ra = s.remoteAddress;
          const address = (typeof ra === 'number' ? ra : typeof ra === 'string' ? tryParseIpv4(ra) ?? 0 : 0) as Ipv4Address;
          l(wrapStream(s), { address, port: typeof s.remotePort === 'number' ? s.remotePort : 0 });
        });
      },
      close() { server.close(); },
    };
  };
  return transport;
}

/**
 * Creates the stack's resolver (clock and Rng from the stack) and hooks it in
 * as `stack.dns`, which `connect` and the HTTP layer use.
 */
export function attachDns(stack: Stack, options: Partial<Omit<DnsResolverOptions, 'clock' | 'rng' | 'transport'>> = {}): DnsResolver {
  const resolver = new DnsResolver({
    clock: stack.clock, rng: stack.rng, transport: stackDnsTransport(stack), counters: stack.stats.get('dns'), ...options,
  });
  stack.dns = resolver;
  return resolver;
}

/** Serves `server`'s zones on the stack's port 53 (UDP, and TCP when `stack.tcp` is attached). */
export function serveDns(stack: Stack, server: DnsServer, port = 53): DnsServer {
  server.counters ??= stack.stats.get('dns');
  server.listen(stackDnsTransport(stack), port);
  return server;
}
