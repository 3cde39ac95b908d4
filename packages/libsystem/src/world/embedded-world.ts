/**
 * The embedded world, assembled from the lower layers:
 *
 *   this host (eth0, DHCP) --LAN 192.0.2.0/24, ~1.5 ms--> router (forwarding, DHCP, DNS for .test)
 *   router --"internet" switch 203.0.113.0/24--> example.test (HTTP, HTTPS: httpbin)   ~10 ms each way
 *                                           \--> echo.test (tcp/udp echo on 7, ws/wss echo) ~15 ms each way
 *
 * Every Stack, link and switch runs on one clock: a self-driving VirtualClock
 * (`PumpedClock`) in virtual time, or a RealClock. Every random choice comes
 * from one seed (TLS key material aside).
 */
import {
  type Clock, type Impairments, localMac, PcapWriter, RealClock, Rng, SimLink, SimNic, SimSwitch,
} from '@pnet/nic';
import { DhcpServer, type DhcpLease, DnsServer, parseIpv4, serveDhcp, serveDns, Stack } from '@pnet/tcpip';
import { stackTransport, type StreamTransport } from '@pnet/tls';
import { HttpServer, httpbin, websocketEchoUpgrade, type RandomSource, type RequestHandler } from '@pnet/http';
import type { NetworkBackends } from '../backends/backends';
import { streamBackends } from '../backends/pnet-http';
import { stackControl, stackDatagrams } from '../backends/pnet-stack';
import { startHostStack } from '../system/host-stack';
import { worldCertificates } from './certificates';
import { PumpedClock } from './pump-clock';
import type { EmbeddedWorld, WorldOptions } from './index';

/** The world's fixed plan: addresses, names, latencies. */
export const WORLD = {
  lan: { net: '192.0.2.0', prefix: 24, router: '192.0.2.1', poolStart: '192.0.2.100', poolEnd: '192.0.2.199' },
  wan: { net: '203.0.113.0', prefix: 24, router: '203.0.113.1' },
  hosts: { 'example.test': '203.0.113.80', 'echo.test': '203.0.113.7', 'router.test': '192.0.2.1' } as Record<string, string>,
  /** One-way delays, ms. */
  delay: { lan: 1.5, example: 10, echo: 15 },
  leaseTime: 86_400,
  /** Captures start at 2026-01-01T00:00:00Z in virtual time (clock times start at 0). */
  epochSeconds: 1_767_225_600,
} as const;

/** TLS settings of this host's client. */
export interface WorldTlsOptions {
  /** CAs to trust instead of the world's (PEM). */
  ca?: string | string[];
  /** Accept any certificate (curl's `-k`). */
  insecure?: boolean;
}

export interface EmbeddedWorldOptions extends WorldOptions {
  tls?: WorldTlsOptions;
  /** How long the host waits for its DHCP lease (virtual or real ms, default 30 000). */
  dhcpTimeout?: number;
}

/** What the world offers beyond the facade's boundary (for the demo and the CLI). */
export interface EmbeddedWorldDetails extends EmbeddedWorld {
  stack: Stack;
  lease: DhcpLease;
  /** PEM of the world's CA (trusted by this host unless `tls` says otherwise) and a file holding it. */
  caCert: string;
  caFile: string;
  /** The link between this host and the router. */
  link: SimLink;
  router: Stack;
  servers: { example: Stack; echo: Stack };
  /** Where this host's frames are captured, when `pcap` was given. */
  pcapPath?: string;
  options: EmbeddedWorldOptions;
}

/** A transport that applies the CLI's TLS choices to every secure connect. */
export function withTlsDefaults(t: StreamTransport, tls: WorldTlsOptions): StreamTransport {
  if (!tls.insecure) return t;
  return {
    connect: (o) => t.connect(o.secure ? { ...o, rejectUnauthorized: false } : o),
    listen: (o, cb) => t.listen(o, cb),
  };
}

/**
 * The facade's backends for a host Stack: TCP/TLS through `stackTransport`,
 * HTTP and WebSocket through @pnet/http, UDP and control from the Stack,
 * WebSocket keys and masks from `random` (a seeded Rng replays them).
 */
export function hostBackends(
  stack: Stack,
  o: { clock: Clock; random?: RandomSource; ca?: string | string[]; insecure?: boolean },
): NetworkBackends & { close(): void } {
  const transport = withTlsDefaults(stackTransport(stack, o.ca ? { ca: o.ca } : {}), { insecure: o.insecure });
  const stream = streamBackends(transport, { clock: o.clock, ...(o.random ? { random: o.random } : {}) });
  return { ...stream, stack: stackControl(stack), datagrams: stackDatagrams(stack) };
}

function serverStack(clock: Clock, rng: Rng, name: string, sw: SimSwitch, mac: number, ip: string, delay: number, gateway: string): Stack {
  const nic = new SimNic({ name, mac: localMac(mac), clock });
  sw.connect(nic, { ingress: { delay }, egress: { delay } });
  const s = new Stack({ clock, rng, name });
  s.addInterface(nic, { name: 'eth0', ip, netmask: 24, up: true });
  s.routes.add({ table: 0, source: '0.0.0.0', sourceNetmask: 0, action: 'unicast', device: 'eth0', destination: gateway });
  s.start();
  return s;
}

/** RFC 862 echo over TCP and UDP on port 7. */
function serveEcho(s: Stack): () => void {
  const tcp = s.tcp.listen({ port: 7 });
  tcp.on('connection', (sock) => {
    sock.on('error', () => undefined);
    sock.pipe(sock);
  });
  const udp = s.udp.bind({ port: 7 });
  udp.on('message', (data, rinfo) => {
    udp.send(data, rinfo.port, rinfo.address);
  });
  return () => {
    tcp.close();
    udp.close();
  };
}

export async function createEmbeddedWorld(options: EmbeddedWorldOptions): Promise<EmbeddedWorldDetails> {
  const seed = options.seed >>> 0;
  const virtual = options.time !== 'real';
  const pumped = virtual ? new PumpedClock() : null;
  const real = virtual ? null : new RealClock({ keepAlive: true });
  const clock: Clock = pumped ?? real!;
  const rng = new Rng(seed);
  const fork = () => rng.fork();
  const certs = worldCertificates();
  const closers: Array<() => unknown> = [];
  let pcap: PcapWriter | null = null;

  try {
    // The LAN: this host and the router on one cable.
    const hostNic = new SimNic({ name: 'eth0', mac: localMac(0x64), clock });
    const routerLan = new SimNic({ name: 'router-lan', mac: localMac(0x01), clock });
    const lanImp: Impairments = { delay: WORLD.delay.lan, ...(options.impairments ?? {}) };
    const link = new SimLink({ clock, seed: rng.nextU32(), aToB: lanImp, bToA: lanImp }).connect(routerLan, hostNic);
    if (options.pcap) {
      pcap = new PcapWriter({ path: options.pcap, clock, epochSeconds: virtual ? WORLD.epochSeconds : Math.floor(Date.now() / 1000) });
      pcap.tapNic(hostNic);
    }

    // The router: LAN and WAN, forwarding, DHCP and DNS on the LAN side.
    const wan = new SimSwitch({ clock, seed: rng.nextU32() });
    const routerWan = new SimNic({ name: 'router-wan', mac: localMac(0x02), clock });
    wan.connect(routerWan);
    const router = new Stack({ clock, rng: fork(), name: 'router', forwarding: true });
    router.addInterface(routerLan, { name: 'eth0', ip: WORLD.lan.router, netmask: WORLD.lan.prefix, up: true });
    router.addInterface(routerWan, { name: 'eth1', ip: WORLD.wan.router, netmask: WORLD.wan.prefix, up: true });
    router.start();
    closers.push(() => router.close());
    const gw = parseIpv4(WORLD.lan.router);
    serveDhcp(router, 'eth0', new DhcpServer({
      clock, serverId: gw, netmask: WORLD.lan.prefix,
      pool: { start: parseIpv4(WORLD.lan.poolStart), end: parseIpv4(WORLD.lan.poolEnd) },
      routers: [gw], dnsServers: [gw], domainName: 'test', leaseTime: WORLD.leaseTime,
    }));
    serveDns(router, new DnsServer({
      origin: 'test',
      records: [
        { name: 'example', type: 'A', value: WORLD.hosts['example.test'] },
        { name: 'www.example', type: 'CNAME', value: 'example' },
        { name: 'echo', type: 'A', value: WORLD.hosts['echo.test'] },
        { name: 'router', type: 'A', value: WORLD.hosts['router.test'] },
      ],
    }));

    // The "internet" hosts.
    const example = serverStack(clock, fork(), 'example.test', wan, 0x50, WORLD.hosts['example.test'], WORLD.delay.example, WORLD.wan.router);
    const echo = serverStack(clock, fork(), 'echo.test', wan, 0x07, WORLD.hosts['echo.test'], WORLD.delay.echo, WORLD.wan.router);
    closers.push(() => example.close(), () => echo.close());
    const secure = { key: certs.server.key, cert: certs.server.cert, ALPNProtocols: ['http/1.1'] };
    const exampleT = stackTransport(example);
    const web = new HttpServer(httpbin(), { clock });
    const webs = new HttpServer(httpbin({ scheme: 'https' }), { clock });
    const echoPage: RequestHandler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('echo.test: WebSocket echo here (ws:// and wss://); TCP and UDP echo on port 7 (RFC 862)\n');
    };
    const wsEcho = new HttpServer(echoPage, { clock, onUpgrade: websocketEchoUpgrade({ clock }) });
    const wssEcho = new HttpServer(echoPage, { clock, onUpgrade: websocketEchoUpgrade({ clock }) });
    const echoT = stackTransport(echo);
    const stopEcho = serveEcho(echo);
    closers.push(stopEcho);
    const listening = [
      web.listen(exampleT, { port: 80 }),
      webs.listen(exampleT, { port: 443, secure }),
      wsEcho.listen(echoT, { port: 80 }),
      wssEcho.listen(echoT, { port: 443, secure }),
    ];
    await Promise.all(listening);
    closers.push(() => web.close(), () => webs.close(), () => wsEcho.close(), () => wssEcho.close());

    // This host: DHCP through the router, DNS from the lease.
    const hostRng = fork();
    const host = await startHostStack({ nic: hostNic, clock, rng: hostRng, address: 'dhcp', dhcpTimeout: options.dhcpTimeout ?? 30_000, name: 'pnet' });
    const tls = options.tls ?? {};
    const backends = hostBackends(host.stack, {
      clock, random: hostRng.fork(), ca: tls.ca ?? certs.ca.cert, insecure: tls.insecure,
    });
    const backendsClose = backends.close;
    delete (backends as NetworkBackends).close;

    let closing: Promise<void> | null = null;
    const world: EmbeddedWorldDetails = {
      backends,
      clock,
      stack: host.stack,
      lease: host.lease!,
      caCert: certs.ca.cert,
      caFile: certs.caFile,
      link,
      router,
      servers: { example, echo },
      options,
      ...(options.pcap ? { pcapPath: options.pcap } : {}),
      close() {
        if (!closing) {
          closing = (async () => {
            backendsClose();
            await host.close().catch(() => undefined);
            await shutDown(closers);
            pcap?.close();
            pumped?.stop();
            real?.cancelAll();
            hostNic.close();
          })();
        }
        return closing;
      },
    };
    return world;
  } catch (err) {
    await shutDown(closers);
    pcap?.close();
    pumped?.stop();
    real?.cancelAll();
    throw err;
  }
}

async function shutDown(closers: Array<() => unknown>): Promise<void> {
  for (const c of closers.reverse()) {
    try {
      await c();
    } catch {
      // Closing what failed half-way: keep going.
    }
  }
}
