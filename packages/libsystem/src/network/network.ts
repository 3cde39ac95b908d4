import type { DatagramSocket } from '../backends/backends';
import {
  checkArpList,
  checkArpSet,
  checkControl,
  checkEvents,
  checkIpconfig,
  checkRouteAdd,
  checkRouteList,
  checkRouteRemove,
  IpconfigResult,
  PhoenixRoute,
  toArpTable,
  toPhoenixRoute,
} from '../config/stack-config';
import type { NetworkControlEvent, QueuedEvent } from '../events/event-queue';
import { UDPHandle } from '../handles/datagram-handle';
import { errorText } from '../handles/error-text';
import type { Handle } from '../handles/handle';
import { HTTPHandle } from '../handles/http-handle';
import type { Encoding } from '../handles/read-modes';
import { TCPHandle } from '../handles/stream-handle';
import { WebSocketHandle } from '../handles/websocket-handle';
import { expectArg } from '../lua/lua-errors';
import { checkURI, parseURI, ParsedURI, urlEncode } from '../uri/uri';
import { checkConnectOptions, CheckedOptions, ConnectOptions, ConnectOptionTable, requireHttpScheme } from './connect-options';
import { ListenOptions, Listeners } from './listeners';
import type { SystemContext } from './system-context';

export type { ConnectOptions, ConnectOptionTable } from './connect-options';

/** A result that is either `[value]` or Lua's `nil, err`. */
export type Result<T> = [T] | [null, string];

/** A URL of one of these schemes, as a string or in an option table (lets `connect` return the precise handle type). */
export type UrlOf<S extends string> = `${S}://${string}` | (Omit<ConnectOptionTable, 'url'> & { url: `${S}://${string}` });

/** The data argument of `post`, `put`, `delete`. */
export type Body = string | Uint8Array;

export type AnyHandle = HTTPHandle | WebSocketHandle | TCPHandle | UDPHandle;

/**
 * Phoenix's `system.network` module. Obtain one from `boot()`:
 * `const { network } = await boot()`.
 */
export class Network {
  private readonly listeners: Listeners;
  private eventsEnabled = false;

  /** Routing tables (Phoenix's `network.route`). */
  readonly route = {
    /** Routes of `table` (default 1; table 0 holds the `local` and `broadcast` routes), or null when it does not exist. */
    list: (table?: number): PhoenixRoute[] | null => {
      const n = checkRouteList(table);
      const routes = this.stack().routeList(n);
      return routes === null ? null : routes.map(toPhoenixRoute);
    },
    /** Adds a route; `Route already exists` when one with that source and mask is in the table. */
    add: (options: {
      table?: number;
      source: string | number;
      sourceNetmask: string | number;
      action: PhoenixRoute['action'];
      device?: string;
      destination?: string;
    }): void => {
      const route = checkRouteAdd(options);
      this.stack().routeAdd(route);
    },
    /** Removes a route; `Route table does not exist`; returns whether a route was there. */
    remove: (source: string | number, mask: string | number, table?: number): boolean => {
      const r = checkRouteRemove(source, mask, table);
      return this.stack().routeRemove(r.source, r.prefix, r.table);
    },
  };

  /** The ARP cache (Phoenix's `network.arp`), with MAC addresses where Phoenix had computer IDs. */
  readonly arp = {
    list: (device: string): Record<string, string> => toArpTable(this.stack().arpList(checkArpList(device))),
    set: (device: string, ip: string | number, mac: string | null): void => {
      const a = checkArpSet(device, ip, mac);
      this.stack().arpSet(a.device, a.ip, a.mac);
    },
  };

  private readonly unsubscribeControl: (() => void) | undefined;

  constructor(private readonly ctx: SystemContext) {
    this.listeners = new Listeners(ctx);
    this.unsubscribeControl = ctx.backends.stack?.onControl?.((e) => this.networkEvent({ type: 'control', messageType: e.type, sender: e.from }));
  }

  // ---- connections ---------------------------------------------------------

  /**
   * Opens a connection and returns its handle at once: `http(s)` handles
   * start `ready` (`write` sends the request), the others `connecting`.
   * Throws `Invalid URI`, `Invalid protocol X`, `Missing host`, `Missing port`.
   */
  connect(options: UrlOf<'http' | 'https'>): HTTPHandle;
  connect(options: UrlOf<'ws' | 'wss'>): WebSocketHandle;
  connect(options: UrlOf<'tcp' | 'psp'>): TCPHandle;
  connect(options: UrlOf<'udp' | 'pdp'>): UDPHandle;
  connect(options: ConnectOptions): AnyHandle;
  connect(options: ConnectOptions): AnyHandle {
    const o = checkConnectOptions('connect', options);
    return this.open(o);
  }

  private open(o: CheckedOptions): AnyHandle {
    this.ctx.ensureRunning();
    const uri = parseURI(o.url);
    const b = this.ctx.backends;
    switch (uri.scheme) {
      case 'http':
      case 'https': {
        requireHost(uri);
        try {
          new URL(o.url);
        } catch {
          throw new Error('Invalid URI');
        }
        return new HTTPHandle(this.ctx, b.http, {
          url: o.url,
          method: o.method,
          headers: o.headers,
          encoding: o.encoding ?? 'binary',
          redirect: o.redirect,
        });
      }
      case 'ws':
      case 'wss': {
        requireHost(uri);
        if (!b.websockets) throw new Error('WebSocket is not available on this system');
        return new WebSocketHandle(this.ctx, o.encoding ?? 'text', b.websockets.connect(o.url, { headers: o.headers }));
      }
      case 'tcp':
      case 'psp': {
        const { host, port } = hostAndPort(uri);
        if (!b.streams) throw new Error('TCP is not available on this system');
        return new TCPHandle(this.ctx, o.encoding ?? 'binary', b.streams.connect({ host, port }));
      }
      case 'udp':
      case 'pdp': {
        const { host, port } = hostAndPort(uri);
        const datagrams = b.datagrams;
        if (!datagrams) throw new Error('UDP is not available on this system');
        const opened = datagrams.open({ remote: { host, port } }).then((socket: DatagramSocket) => ({
          socket,
          release: () => socket.close(),
        }));
        return new UDPHandle(this.ctx, o.encoding ?? 'binary', opened);
      }
      default:
        throw new Error(`Invalid protocol ${uri.scheme}`);
    }
  }

  /** Sends a request and waits for the response head: `[handle]` (any status code) or `[null, err]`. */
  private async request(o: CheckedOptions, body: Body[]): Promise<Result<HTTPHandle>> {
    const handle = this.open(o) as HTTPHandle;
    handle.write(...body);
    const status = await handle.whenStatus('open', 'error', 'closed');
    if (status === 'open') return [handle];
    const [, err] = handle.status();
    return [null, err ?? 'Connection closed'];
  }

  private httpOptions(fn: string, options: unknown, method?: string): CheckedOptions {
    const o = checkConnectOptions(fn, options);
    requireHttpScheme(o.url);
    return method ? { ...o, method } : o;
  }

  /** GET: waits until the response head arrives (`open`) or the request fails. Throws `Invalid scheme` for non-HTTP URLs. */
  async get(options: ConnectOptions): Promise<Result<HTTPHandle>> {
    return this.request(this.httpOptions('get', options), []);
  }

  /** GET, read the whole body, close: `[body, code]` (4xx and 5xx included) or `[null, err]`. Always binary. */
  async getData(url: string, headers?: Record<string, string>): Promise<[Buffer, number] | [null, string]> {
    expectArg('getData', 1, url, 'string');
    expectArg('getData', 2, headers, 'table', 'nil');
    requireHttpScheme(url);
    const o = checkConnectOptions('getData', { url, headers: headers ?? undefined, encoding: 'binary' });
    const [handle, err] = await this.request(o, []);
    if (!handle) return [null, err!];
    try {
      const data = (await handle.read('*a')) as Buffer | null;
      return [data ?? Buffer.alloc(0), handle.responseCode()];
    } catch (e) {
      return [null, errorText(e)];
    } finally {
      if (handle.status()[0] !== 'closed') handle.close();
    }
  }

  async head(options: ConnectOptions): Promise<Result<HTTPHandle>> {
    return this.request(this.httpOptions('head', options, 'HEAD'), []);
  }

  async options(options: ConnectOptions): Promise<Result<HTTPHandle>> {
    return this.request(this.httpOptions('options', options, 'OPTIONS'), []);
  }

  async post(options: ConnectOptions, data: Body): Promise<Result<HTTPHandle>> {
    expectArg('post', 2, data, 'bytes');
    return this.request(this.httpOptions('post', options, 'POST'), [data]);
  }

  async put(options: ConnectOptions, data: Body): Promise<Result<HTTPHandle>> {
    expectArg('put', 2, data, 'bytes');
    return this.request(this.httpOptions('put', options, 'PUT'), [data]);
  }

  /** DELETE, with a body only when `data` is given. */
  async delete(options: ConnectOptions, data?: Body): Promise<Result<HTTPHandle>> {
    expectArg('delete', 2, data, 'bytes', 'nil');
    return this.request(this.httpOptions('delete', options, 'DELETE'), data === undefined || data === null ? [] : [data]);
  }

  // ---- hosting -------------------------------------------------------------

  /**
   * Listens on `tcp://addr:port`, `udp://addr:port`, `http://addr:port` or
   * `ws://addr:port` (port 0: any free port). Resolves with the port bound. Throws
   * `Missing port`, `Port already open`, `Invalid protocol X`.
   */
  listen(uri: string, options?: ListenOptions): Promise<number> {
    return this.listeners.listen(uri, options);
  }

  /** Stops listening; resolves false when nothing listened on that URI. */
  unlisten(uri: string): Promise<boolean> {
    return this.listeners.unlisten(uri);
  }

  // ---- stack configuration ------------------------------------------------

  private stack() {
    const s = this.ctx.backends.stack;
    if (!s) throw new Error('Network configuration is not available on this system');
    return s;
  }

  /**
   * Reads or changes an interface: `info` is `{ip?, netmask? (prefix length
   * or dotted), up?}`. Returns `{ip, netmask (prefix length), up}`, or null
   * for an interface with no configuration.
   */
  ipconfig(device: string, info?: { ip?: string | number; netmask?: string | number; up?: boolean }): IpconfigResult | null {
    const req = checkIpconfig(device, info);
    const r = this.stack().ipconfig(req.device, req.info);
    return r === null ? null : { ip: r.ip, netmask: r.netmask, up: r.up };
  }

  /**
   * Sends an ICMP control message: `ping` (an echo request; the answer comes
   * as a `network_event` of type `pong`, or `timeout`/`unreachable`), `pong`,
   * `unreachable`, `timeout`. Events arrive only while `events(true)`.
   */
  control(ip: string | number, type: 'ping' | 'pong' | 'unreachable' | 'timeout', err?: string): void {
    const c = checkControl(ip, type, err);
    const stack = this.stack();
    if (c.type === 'ping') {
      stack.ping(c.ip).then(
        ({ rtt }) => this.networkEvent({ type: 'control', messageType: 'pong', sender: c.ip, rtt }),
        (e) => {
          const timedOut = (e as { code?: string }).code === 'ETIMEDOUT' || /time/i.test(String((e as Error)?.message));
          this.networkEvent({ type: 'control', messageType: timedOut ? 'timeout' : 'unreachable', sender: c.ip, error: errorText(e) });
        },
      );
      return;
    }
    if (!stack.sendControl) throw new Error(`Control messages of type ${c.type} are not supported by this stack`);
    stack.sendControl(c.ip, c.type, c.error);
  }

  /** Turns `network_event` delivery on or off (no argument: leaves it); returns the state. */
  events(state?: boolean): boolean {
    const s = checkEvents(state);
    if (s !== undefined) this.eventsEnabled = s;
    return this.eventsEnabled;
  }

  private networkEvent(e: NetworkControlEvent): void {
    if (!this.eventsEnabled || this.ctx.shutDown) return;
    this.ctx.queueEvent('network_event', e);
  }

  // ---- events and utilities -----------------------------------------------

  /**
   * Waits for the next event of this system (with `name`, only that kind;
   * with `filter`, only payloads it accepts): `[name, payload]`.
   * Other events stay queued.
   */
  async pullEvent(name?: string, filter?: (payload: any) => boolean): Promise<QueuedEvent> {
    expectArg('pullEvent', 1, name, 'string', 'nil');
    expectArg('pullEvent', 2, filter, 'function', 'nil');
    return this.ctx.events.pull(name ?? undefined, filter ?? undefined);
  }

  /** Takes the next queued event (as `pullEvent`) without waiting: `[name, payload]` or null. */
  pollEvent(name?: string, filter?: (payload: any) => boolean): QueuedEvent | null {
    expectArg('pollEvent', 1, name, 'string', 'nil');
    expectArg('pollEvent', 2, filter, 'function', 'nil');
    return this.ctx.events.poll(name ?? undefined, filter ?? undefined);
  }

  parseURI(uri: string): ParsedURI {
    return parseURI(uri);
  }

  checkURI(uri: string): boolean {
    return checkURI(uri);
  }

  urlEncode(str: string): string {
    return urlEncode(str);
  }

  /** Closes every listener and handle (system shutdown). */
  async closeAll(): Promise<void> {
    this.unsubscribeControl?.();
    await this.listeners.closeAll();
    for (const h of [...this.ctx.handles]) (h as Handle).forceClose();
  }
}

function requireHost(uri: ParsedURI): string {
  if (!uri.host) throw new Error('Missing host');
  return uri.host;
}

function hostAndPort(uri: ParsedURI): { host: string; port: number } {
  const host = requireHost(uri);
  if (uri.port === undefined) throw new Error('Missing port');
  return { host, port: uri.port };
}

export type { Encoding };
