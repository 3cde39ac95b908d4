/**
 * Phoenix's argument checks and shape conversions for `ipconfig`, `route`,
 * `arp`, `control` and `events`: pure functions, so they are exact and
 * tested whatever stack sits below.
 */
import { formatMac, parseMac } from '@pnet/nic';
import { expectArg, expectField, expectRange } from '../lua/lua-errors';
import type { RouteAction, StackRoute } from '../backends/backends';

/**
 * Phoenix's `ipToNumber`: `a`, `a.b`, `a.b.c` or `a.b.c.d` (the last part
 * fills the remaining bytes, as in inet_aton), or a number (taken modulo
 * 2^32). Unlike Phoenix, parts out of range are rejected. Throws
 * `Invalid IP address`.
 */
export function ipToNumber(ip: string | number): number {
  if (typeof ip === 'number') {
    if (!Number.isFinite(ip)) throw new Error('Invalid IP address');
    return Math.trunc(ip) >>> 0;
  }
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?$/.exec(ip);
  if (!m) throw new Error('Invalid IP address');
  const parts = m.slice(1).filter((p) => p !== undefined).map(Number);
  const last = parts.pop()!;
  let v = 0;
  for (const p of parts) {
    if (p > 255) throw new Error('Invalid IP address');
    v = v * 256 + p;
  }
  const restBytes = 4 - parts.length;
  if (last >= 2 ** (8 * restBytes)) throw new Error('Invalid IP address');
  return (v * 2 ** (8 * restBytes) + last) >>> 0;
}

export function numberToIP(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/** A dotted address in canonical form (`10.1` becomes `10.0.0.1`). */
export function canonicalIP(ip: string | number): string {
  return numberToIP(ipToNumber(ip));
}

/** A netmask as Phoenix takes it: a number is a prefix length, a string a dotted mask. Returns the prefix length. */
export function netmaskToPrefix(mask: string | number): number {
  if (typeof mask === 'number') {
    if (!Number.isInteger(mask) || mask < 0 || mask > 32) throw new Error('Invalid netmask');
    return mask;
  }
  const n = ipToNumber(mask);
  let prefix = 0;
  while (prefix < 32 && (n & (0x80000000 >>> prefix)) !== 0) prefix++;
  const back = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if (back !== n) throw new Error('Invalid netmask');
  return prefix;
}

export function prefixToMaskNumber(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

// ---- ipconfig ----------------------------------------------------------------

export interface IpconfigInfo {
  ip?: string | number;
  netmask?: string | number;
  up?: boolean;
}

export interface IpconfigResult {
  ip: string | null;
  /** Prefix length. */
  netmask: number;
  up: boolean;
}

export interface IpconfigRequest {
  device: string;
  info?: { ip?: string; netmask?: number; up?: boolean };
}

export function checkIpconfig(device: unknown, info: unknown): IpconfigRequest {
  expectArg('ipconfig', 1, device, 'string');
  expectArg('ipconfig', 2, info, 'table', 'nil');
  if (info === undefined || info === null) return { device: device as string };
  const i = info as IpconfigInfo;
  expectField(i, 'ip', 'string', 'number', 'nil');
  expectField(i, 'netmask', 'string', 'number', 'nil');
  expectField(i, 'up', 'boolean', 'nil');
  const out: IpconfigRequest['info'] = {};
  if (i.ip !== undefined && i.ip !== null) out.ip = canonicalIP(i.ip);
  if (i.netmask !== undefined && i.netmask !== null) out.netmask = netmaskToPrefix(i.netmask);
  if (i.up !== undefined && i.up !== null) out.up = i.up;
  return { device: device as string, info: out };
}

// ---- routes ------------------------------------------------------------------

export const ROUTE_ACTIONS: readonly RouteAction[] = ['unicast', 'broadcast', 'local', 'unreachable', 'prohibit', 'blackhole'];

/** A route as `route.list` returns it (Phoenix's shape; `device` is an interface name like `eth0`). */
export interface PhoenixRoute {
  source: string;
  /** Prefix length. */
  sourceNetmask: number;
  action: RouteAction;
  device?: string;
  destination?: string;
}

export interface RouteAddOptions {
  table?: number;
  source: string | number;
  sourceNetmask: string | number;
  action: RouteAction;
  device?: string;
  destination?: string;
}

export function checkRouteList(table: unknown): number {
  expectArg('list', 1, table, 'number', 'nil');
  const n = (table as number | undefined | null) ?? 1;
  expectRange(n, 0);
  return n;
}

/**
 * Phoenix's checks for `route.add`: `device` is required for `unicast`,
 * `broadcast` and `local`; an unknown action is
 * `bad field 'action' (invalid option 'x')`. Unlike Phoenix, `unicast` may
 * leave out `destination` (the network is on the link).
 */
export function checkRouteAdd(options: unknown): StackRoute {
  expectArg('add', 1, options, 'table');
  const o = options as RouteAddOptions;
  const table = expectField<number | undefined | null>(o, 'table', 'number', 'nil') ?? 1;
  expectField(o, 'source', 'string', 'number');
  expectField(o, 'sourceNetmask', 'string', 'number');
  expectField(o, 'action', 'string');
  const needsDevice = o.action === 'unicast' || o.action === 'broadcast' || o.action === 'local';
  if (needsDevice) expectField(o, 'device', 'string');
  else expectField(o, 'device', 'string', 'nil');
  expectField(o, 'destination', 'string', 'nil');
  expectRange(table, 1);
  if (!ROUTE_ACTIONS.includes(o.action)) throw new Error(`bad field 'action' (invalid option '${o.action}')`);
  const prefix = netmaskToPrefix(o.sourceNetmask);
  const source = numberToIP((ipToNumber(o.source) & prefixToMaskNumber(prefix)) >>> 0);
  const route: StackRoute = { table, source, sourceNetmask: prefix, action: o.action };
  if (o.device !== undefined && o.device !== null) route.device = o.device;
  if (o.destination !== undefined && o.destination !== null) route.destination = canonicalIP(o.destination);
  return route;
}

export function checkRouteRemove(source: unknown, mask: unknown, table: unknown): { source: string; prefix: number; table: number } {
  expectArg('remove', 1, source, 'string', 'number');
  expectArg('remove', 2, mask, 'string', 'number');
  expectArg('remove', 3, table, 'number', 'nil');
  const t = (table as number | undefined | null) ?? 1;
  expectRange(t, 1);
  const prefix = netmaskToPrefix(mask as string | number);
  return { source: numberToIP((ipToNumber(source as string | number) & prefixToMaskNumber(prefix)) >>> 0), prefix, table: t };
}

export function toPhoenixRoute(r: StackRoute): PhoenixRoute {
  const out: PhoenixRoute = { source: r.source, sourceNetmask: r.sourceNetmask, action: r.action };
  if (r.device !== undefined) out.device = r.device;
  if (r.destination !== undefined) out.destination = r.destination;
  return out;
}

// ---- ARP -----------------------------------------------------------------------

export function checkArpList(device: unknown): string {
  return expectArg<string>('list', 1, device, 'string');
}

/** `arp.set(device, ip, mac | null)`: Phoenix took a computer ID where we take a MAC address. */
export function checkArpSet(device: unknown, ip: unknown, mac: unknown): { device: string; ip: string; mac: string | null } {
  expectArg('set', 1, device, 'string');
  expectArg('set', 2, ip, 'string', 'number');
  expectArg('set', 3, mac, 'string', 'nil');
  let macText: string | null = null;
  if (typeof mac === 'string') {
    try {
      macText = formatMac(parseMac(mac));
    } catch {
      throw new Error('Invalid MAC address');
    }
  }
  return { device: device as string, ip: canonicalIP(ip as string | number), mac: macText };
}

/** The ARP cache as a table from IP to MAC, like Phoenix's table from IP to computer ID. */
export function toArpTable(entries: Array<{ ip: string; mac: string }>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of entries) out[e.ip] = e.mac;
  return out;
}

// ---- control / events ---------------------------------------------------------

export type ControlType = 'ping' | 'pong' | 'unreachable' | 'timeout';
const CONTROL_TYPES: readonly ControlType[] = ['ping', 'pong', 'unreachable', 'timeout'];

export function checkControl(ip: unknown, type: unknown, err: unknown): { ip: string; type: ControlType; error?: string } {
  expectArg('control', 1, ip, 'string', 'number');
  expectArg('control', 2, type, 'string');
  expectArg('control', 3, err, 'string', 'nil');
  if (!CONTROL_TYPES.includes(type as ControlType)) throw new Error(`bad argument #2 (invalid option '${type}')`);
  const out: { ip: string; type: ControlType; error?: string } = { ip: canonicalIP(ip as string | number), type: type as ControlType };
  if (typeof err === 'string') out.error = err;
  return out;
}

export function checkEvents(state: unknown): boolean | undefined {
  expectArg('events', 1, state, 'boolean', 'nil');
  return (state as boolean | null | undefined) ?? undefined;
}
