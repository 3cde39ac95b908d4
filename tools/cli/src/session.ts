/**
 * Where a `pnet` command runs: the embedded world (default), or a Linux TAP
 * device (`--tap DEV` with `--address A/P [--gateway G] [--dns S]` or `--dhcp`).
 * Either way the command gets a booted System (Phoenix's `system.network`)
 * over a pnet Stack.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { localMac, PcapWriter, RealClock, Rng, TapNic, type Clock } from '@pnet/nic';
import type { Stack } from '@pnet/tcpip';
import { boot, createEmbeddedWorld, hostBackends, startHostStack, type System } from '@pnet/libsystem';
import { type Parsed, flag, UsageError, value, values } from './args';

export { SESSION_OPTIONS } from './session-options';

export interface Session {
  system: System;
  stack: Stack;
  clock: Clock;
  /** 'embedded world' or 'tap DEV'. */
  where: string;
  log(line: string): void;
  close(): Promise<void>;
}

function seedOf(p: Parsed): number | undefined {
  const s = value(p, 'seed');
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) throw new UsageError(`--seed must be a non-negative integer, got ${JSON.stringify(s)}`);
  return Number(s);
}

function tlsOf(p: Parsed): { ca?: string; insecure?: boolean } {
  const out: { ca?: string; insecure?: boolean } = {};
  const file = value(p, 'cacert');
  if (file !== undefined) {
    try {
      out.ca = readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(`--cacert ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  if (flag(p, 'insecure')) out.insecure = true;
  return out;
}

export async function openSession(p: Parsed, o: { realTime?: boolean } = {}): Promise<Session> {
  const verbose = flag(p, 'verbose');
  const log = (line: string) => {
    if (verbose) process.stderr.write(`* ${line}\n`);
  };
  const seed = seedOf(p);
  const tls = tlsOf(p);
  const pcap = value(p, 'pcap');
  const tap = value(p, 'tap');
  const w0 = performance.now();
  if (tap === undefined) {
    for (const n of ['address', 'gateway', 'dns', 'dhcp']) if (p.options.has(n)) throw new UsageError(`--${n} needs --tap`);
    const time = o.realTime || flag(p, 'real-time') ? 'real' : 'virtual';
    const world = await createEmbeddedWorld({ time, seed: seed ?? 1, ...(pcap ? { pcap } : {}), tls });
    const system = await boot({ backends: { ...world.backends, close: () => world.close() }, clock: world.clock });
    log(`embedded world (${time} time, seed ${seed ?? 1}): lease ${world.lease ? `${fmt(world.lease.address)}/${world.lease.prefix}` : '?'} from ${WORLD_ROUTER} after ${world.clock.now().toFixed(1)} ms (wall ${(performance.now() - w0).toFixed(0)} ms)`);
    return { system, stack: world.stack, clock: world.clock, where: 'embedded world', log, close: () => system.shutdown() };
  }
  // A TAP device: wall-clock time; the seed (when given) still fixes the stack's own randomness.
  const dhcp = flag(p, 'dhcp');
  const addr = value(p, 'address');
  if (dhcp === (addr !== undefined)) throw new UsageError('--tap needs exactly one of --address A/P and --dhcp');
  let address: 'dhcp' | { ip: string; prefix: number } = 'dhcp';
  if (addr !== undefined) {
    const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(addr);
    if (!m || Number(m[2]) > 32) throw new UsageError(`--address must look like 192.0.2.2/24, got ${JSON.stringify(addr)}`);
    address = { ip: m[1], prefix: Number(m[2]) };
  }
  const clock = new RealClock({ keepAlive: true });
  const rng = new Rng(seed ?? randomInt(2 ** 47));
  const nic = TapNic.open({ name: tap, mac: localMac(rng.nextU32()), clock, keepAlive: true });
  let writer: PcapWriter | null = null;
  if (pcap) {
    writer = new PcapWriter({ path: pcap, clock, epochSeconds: Math.floor(Date.now() / 1000 - clock.now() / 1000) });
    writer.tapNic(nic);
  }
  try {
    const gateway = value(p, 'gateway');
    const dns = values(p, 'dns');
    const host = await startHostStack({
      nic, clock, rng, address, ...(gateway ? { gateway } : {}), ...(dns.length ? { dns } : {}), dhcpTimeout: 30_000,
    });
    const extra = hostBackends(host.stack, { clock, random: rng.fork(), ...(tls.ca ? { ca: tls.ca } : {}), insecure: tls.insecure });
    const system = await boot({
      backends: {
        ...host.backends, ...extra,
        close: async () => {
          extra.close();
          await host.close();
          writer?.close();
          nic.close();
          clock.cancelAll();
        },
      },
      clock,
    });
    const cfg = host.stack.ipconfig('eth0');
    log(`tap ${nic.ifname}: ${cfg ? `${fmt(cfg.ip)}/${cfg.netmask}` : '?'}${host.lease ? ' by DHCP' : ''} (${(performance.now() - w0).toFixed(0)} ms)`);
    return { system, stack: host.stack, clock, where: `tap ${nic.ifname}`, log, close: () => system.shutdown() };
  } catch (err) {
    writer?.close();
    nic.close();
    clock.cancelAll();
    throw err;
  }
}

const WORLD_ROUTER = '192.0.2.1';

export function fmt(ip: number): string {
  return [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.');
}
