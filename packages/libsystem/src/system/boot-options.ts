import type { Clock, Impairments } from '@pnet/nic';
import type { NetworkBackends } from '../backends/backends';
import { canonicalIP, netmaskToPrefix } from '../config/stack-config';

/** Run on a real Linux TAP device. */
export interface TapBootOptions {
  /**
   * `tap`: the device name (or a pattern with `%d`). Its kernel side must be up
   * before frames can flow (Linux refuses writes to a TAP that is down). With
   * `prepare`, boot opens the device, awaits `prepare(ifname)` (e.g. to move it
   * into a namespace, address it and bring it up), and only then configures the stack.
   */
  nic: { tap: string; prepare?: (ifname: string) => void | Promise<void> };
  /** `dhcp`, or a static address with its prefix length, e.g. `192.0.2.2/24`. */
  address: 'dhcp' | string;
  gateway?: string;
  dns?: string | string[];
}

/** Run in the embedded simulated world (the default). */
export interface WorldBootOptions {
  /** `virtual` (default) or `real` time. */
  time?: 'virtual' | 'real';
  /** Seed of every random choice (default 1): the same seed replays the same run in virtual time. */
  seed?: number;
  impairments?: Impairments;
  /** Write this host's frames to a pcap file. */
  pcap?: string;
}

/** Run the facade over backends given by the caller (embedding, tests). */
export interface BackendBootOptions {
  backends: NetworkBackends;
  /** The clock the backends run on (default a RealClock); `system.clock` returns it. */
  clock?: Clock;
}

export type BootOptions = TapBootOptions | WorldBootOptions | BackendBootOptions;

export type CheckedBootOptions =
  | { kind: 'tap'; tap: string; prepare?: (ifname: string) => void | Promise<void>; address: 'dhcp' | { ip: string; prefix: number }; gateway?: string; dns: string[] }
  | { kind: 'world'; time: 'virtual' | 'real'; seed: number; impairments?: Impairments; pcap?: string }
  | { kind: 'backends'; backends: NetworkBackends; clock?: Clock };

/** Checks the options of `boot()`, with errors that name the bad option. */
export function checkBootOptions(options: BootOptions | undefined): CheckedBootOptions {
  if (options === undefined || options === null) return { kind: 'world', time: 'virtual', seed: 1 };
  if (typeof options !== 'object') throw new TypeError('boot: options must be an object');
  if ('backends' in options && options.backends !== undefined) {
    if (typeof options.backends !== 'object' || options.backends === null) throw new TypeError('boot: backends must be an object');
    const clock = (options as BackendBootOptions).clock;
    if (clock !== undefined && (typeof clock !== 'object' || typeof clock.now !== 'function')) throw new TypeError('boot: clock must be a Clock');
    return clock ? { kind: 'backends', backends: options.backends, clock } : { kind: 'backends', backends: options.backends };
  }
  if ('nic' in options && options.nic !== undefined) {
    const o = options as TapBootOptions;
    if (typeof o.nic !== 'object' || typeof o.nic.tap !== 'string' || o.nic.tap === '') throw new TypeError('boot: nic must be { tap: "<device name>" }');
    let address: 'dhcp' | { ip: string; prefix: number };
    if (o.address === 'dhcp') address = 'dhcp';
    else {
      const m = typeof o.address === 'string' ? /^([^/]+)\/(\d{1,2})$/.exec(o.address) : null;
      if (!m) throw new TypeError(`boot: address must be "dhcp" or "a.b.c.d/prefix", got ${JSON.stringify(o.address)}`);
      try {
        address = { ip: canonicalIP(m[1]), prefix: netmaskToPrefix(Number(m[2])) };
      } catch {
        throw new TypeError(`boot: invalid address ${JSON.stringify(o.address)}`);
      }
    }
    const ip = (what: string, v: unknown) => {
      try {
        if (typeof v !== 'string') throw new Error();
        return canonicalIP(v);
      } catch {
        throw new TypeError(`boot: invalid ${what} ${JSON.stringify(v)}`);
      }
    };
    if (o.nic.prepare !== undefined && typeof o.nic.prepare !== 'function') throw new TypeError('boot: nic.prepare must be a function');
    const out: CheckedBootOptions = { kind: 'tap', tap: o.nic.tap, address, dns: [] };
    if (o.nic.prepare) out.prepare = o.nic.prepare;
    if (o.gateway !== undefined) out.gateway = ip('gateway', o.gateway);
    if (o.dns !== undefined) out.dns = (Array.isArray(o.dns) ? o.dns : [o.dns]).map((d) => ip('dns', d));
    return out;
  }
  const o = options as WorldBootOptions;
  const time = o.time ?? 'virtual';
  if (time !== 'virtual' && time !== 'real') throw new TypeError(`boot: time must be "virtual" or "real", got ${JSON.stringify(o.time)}`);
  const seed = o.seed ?? 1;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new TypeError('boot: seed must be a finite number');
  if (o.pcap !== undefined && typeof o.pcap !== 'string') throw new TypeError('boot: pcap must be a file path');
  const out: CheckedBootOptions = { kind: 'world', time, seed };
  if (o.impairments !== undefined) out.impairments = o.impairments;
  if (o.pcap !== undefined) out.pcap = o.pcap;
  return out;
}
