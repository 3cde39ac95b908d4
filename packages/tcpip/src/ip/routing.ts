/**
 * Numbered routing tables with Phoenix's actions. Lookup is longest prefix over
 * all tables (ties: the lower table number, then the older route).
 */
import { Ipv4Address, formatIpv4, maskToPrefix, prefixToMask, tryParseIpv4 } from '../wire/ipv4-address';

export type RouteAction = 'unicast' | 'broadcast' | 'local' | 'unreachable' | 'prohibit' | 'blackhole';
const ACTIONS: readonly RouteAction[] = ['unicast', 'broadcast', 'local', 'unreachable', 'prohibit', 'blackhole'];

export interface Route {
  table: number;
  /** The destination network (Phoenix calls the matched address the route's source). */
  source: Ipv4Address;
  /** Prefix length. */
  sourceNetmask: number;
  action: RouteAction;
  device?: string;
  /** The gateway of a unicast route (absent: on-link). */
  destination?: Ipv4Address;
}

export interface RouteSpec {
  table?: number;
  source: Ipv4Address | string;
  /** Prefix length (0..32) or a dotted mask. */
  sourceNetmask: number | string;
  action: RouteAction;
  device?: string;
  destination?: Ipv4Address | string;
}

/** Parses an address given as an Ipv4Address number or dotted text; throws a clear error otherwise. */
export function toIpv4(value: unknown, what: string): Ipv4Address {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff) return value as Ipv4Address;
  if (typeof value === 'string') {
    const v = tryParseIpv4(value);
    if (v !== null) return v;
  }
  throw new TypeError(`bad ${what} (expected IPv4 address, got ${JSON.stringify(value)})`);
}

/** A prefix length from a number 0..32, a dotted mask, or a mask as a number above 32. */
export function toPrefix(value: unknown, what = 'netmask'): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 32) return value;
  let mask: number | null = null;
  if (typeof value === 'string') {
    if (/^\d{1,2}$/.test(value) && Number(value) <= 32) return Number(value);
    mask = tryParseIpv4(value);
  }
  if (typeof value === 'number' && Number.isInteger(value) && value > 32 && value <= 0xffffffff) mask = value;
  if (mask !== null) {
    const p = maskToPrefix(mask);
    if (p >= 0) return p;
  }
  throw new TypeError(`bad ${what} (expected prefix length or contiguous mask, got ${JSON.stringify(value)})`);
}

export class RoutingTables {
  private readonly tables = new Map<number, Route[]>();
  /** Every route, sorted for lookup: longest prefix first, then table, then age. */
  private sorted: Route[] = [];
  /**
   * Bumped on every change of the routes and (through `invalidate`) of the interfaces a decision
   * reads: a routing decision cached under an older value is stale.
   */
  generation = 0;

  /** Marks every cached routing decision stale (an interface was added or readdressed). */
  invalidate(): void {
    this.generation++;
  }

  add(spec: RouteSpec): Route {
    if (spec === null || typeof spec !== 'object') throw new TypeError('bad argument #1 to \'add\' (expected table)');
    const table = spec.table ?? 1;
    if (!Number.isInteger(table) || table < 0) throw new TypeError(`bad field "table" (expected non-negative integer, got ${table})`);
    if (!ACTIONS.includes(spec.action)) throw new TypeError(`bad field "action" (expected one of ${ACTIONS.join(', ')}, got ${JSON.stringify(spec.action)})`);
    const prefix = toPrefix(spec.sourceNetmask, 'sourceNetmask');
    const source = (toIpv4(spec.source, 'source') & prefixToMask(prefix)) >>> 0 as Ipv4Address;
    if (spec.device !== undefined && typeof spec.device !== 'string') throw new TypeError('bad field "device" (expected string)');
    const route: Route = { table, source, sourceNetmask: prefix, action: spec.action };
    if (spec.device !== undefined) route.device = spec.device;
    if (spec.destination !== undefined) route.destination = toIpv4(spec.destination, 'destination');
    if (route.action === 'unicast' && route.device === undefined && route.destination === undefined) {
      throw new TypeError('a unicast route needs a device or a destination (gateway)');
    }
    let list = this.tables.get(table);
    if (!list) this.tables.set(table, (list = []));
    if (list.some((r) => r.source === source && r.sourceNetmask === prefix)) throw new Error('Route already exists');
    list.push(route);
    this.resort();
    return route;
  }

  /** Removes the route for source/mask from `table` (default 1). */
  remove(source: Ipv4Address | string, mask: number | string, table = 1): void {
    const list = this.tables.get(table);
    if (!list) throw new Error('Route table does not exist');
    const prefix = toPrefix(mask, 'sourceNetmask');
    const net = (toIpv4(source, 'source') & prefixToMask(prefix)) >>> 0;
    const i = list.findIndex((r) => r.source === net && r.sourceNetmask === prefix);
    if (i < 0) throw new Error('Route does not exist');
    list.splice(i, 1);
    this.resort();
  }

  /** Removes every route matching `pred` (used when an interface is reconfigured). */
  removeWhere(pred: (r: Route) => boolean): void {
    let changed = false;
    for (const list of this.tables.values()) {
      for (let i = list.length - 1; i >= 0; i--) if (pred(list[i])) { list.splice(i, 1); changed = true; }
    }
    if (changed) this.resort();
  }

  /** Copies of the routes of a table (default 1), or null when it does not exist. */
  list(table = 1): Route[] | null {
    const list = this.tables.get(table);
    return list ? list.map((r) => ({ ...r })) : null;
  }

  /** Numbers of the existing tables. */
  tableNumbers(): number[] {
    return [...this.tables.keys()].sort((a, b) => a - b);
  }

  /** The best route for `dst` over all tables, optionally only those out of `device`; null when none. */
  lookup(dst: Ipv4Address, device?: string): Route | null {
    const routes = this.sorted;
    for (let i = 0; i < routes.length; i++) {
      const r = routes[i];
      if (device !== undefined && r.device !== undefined && r.device !== device) continue;
      const m = prefixToMaskFast(r.sourceNetmask);
      if (((dst & m) >>> 0) === r.source) return r;
    }
    return null;
  }

  /** A text dump like `ip route` (for debugging). */
  toString(): string {
    return this.sorted.map((r) => `table ${r.table} ${formatIpv4(r.source)}/${r.sourceNetmask} ${r.action}` +
      (r.destination !== undefined ? ` via ${formatIpv4(r.destination)}` : '') + (r.device ? ` dev ${r.device}` : '')).join('\n');
  }

  private resort(): void {
    const all: Route[] = [];
    for (const t of [...this.tables.keys()].sort((a, b) => a - b)) all.push(...this.tables.get(t)!);
    // Stable sort keeps table order, then insertion order, within a prefix length.
    all.sort((a, b) => b.sourceNetmask - a.sourceNetmask);
    this.sorted = all;
    this.generation++;
  }
}

const MASKS = new Uint32Array(33);
for (let p = 0; p <= 32; p++) MASKS[p] = prefixToMask(p);
function prefixToMaskFast(p: number): number {
  return MASKS[p];
}
