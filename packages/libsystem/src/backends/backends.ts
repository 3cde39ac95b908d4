import type { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import type { StreamTransport } from '@pnet/tls';

/**
 * The small interfaces the facade is built over. A system gets them from the
 * pnet stack (TCP through the StreamTransport, UDP sockets, the HTTP client
 * and server, WebSockets); tests build them from real Node objects. Anything
 * missing makes the calls that need it fail with a clear error.
 */
export interface NetworkBackends {
  /** Opens HTTP exchanges (http and https). */
  http?: HttpClientBackend;
  /** Serves HTTP for `listen('http://...')`. */
  httpServer?: HttpServerBackend;
  /** Byte streams for `tcp://` (alias `psp://`): connect and listen. */
  streams?: StreamTransport;
  /** Datagram sockets for `udp://` (alias `pdp://`). */
  datagrams?: DatagramBackend;
  /** Message sockets for `ws://` and `wss://`. */
  websockets?: WebSocketBackend;
  /** Accepts WebSocket connections for `listen('ws://...')`. */
  websocketServer?: WebSocketServerBackend;
  /** Interface, route, ARP and ICMP control (the Stack). */
  stack?: StackControl;
  /** Releases whatever the backends hold; called by `system.shutdown()`. */
  close?(): void | Promise<void>;
}

// ---- HTTP exchange ---------------------------------------------------------

export interface HttpRequestSpec {
  /** Absolute URL of this hop (after redirects, the new location). */
  url: string;
  secure: boolean;
  host: string;
  port: number;
  /** Path and query, at least `/`. */
  target: string;
  method: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Aborts the exchange before the response head arrives. */
  signal: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The response body; destroying it aborts the exchange. */
  body: Readable;
}

export interface HttpClientBackend {
  /** Sends one request (no redirect following: the facade does that); resolves with the response head. */
  request(spec: HttpRequestSpec): Promise<HttpResponse>;
}

export interface HttpServerExchange {
  method: string;
  /** The request target (path and query). */
  target: string;
  headers: Record<string, string | string[] | undefined>;
  remoteAddress: string;
  /** The request body. */
  body: Readable;
  /** Sends the response head; returns the stream for the response body (end it to finish). */
  respond(status: number, headers: Record<string, string>): Writable;
}

export interface ListeningServer {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

export interface HttpServerBackend {
  listen(options: { port: number; host: string }, onRequest: (exchange: HttpServerExchange) => void): Promise<ListeningServer>;
}

// ---- Datagrams -------------------------------------------------------------

export interface DatagramInfo {
  address: string;
  port: number;
}

/** A bound datagram socket: emits `message` (data: Buffer, rinfo: DatagramInfo) and `error` (Error). */
export interface DatagramSocket extends EventEmitter {
  readonly localAddress: string;
  readonly localPort: number;
  /** The peer of a connected socket. */
  readonly remote?: DatagramInfo;
  /** Sends one datagram; `to` may be left out on a connected socket. */
  send(data: Uint8Array, to?: DatagramInfo): void;
  close(): void;
}

export interface DatagramBackend {
  /**
   * Binds a socket; with `remote`, resolves the host name and connects, so
   * only datagrams from that peer arrive. Rejects with a Node-style `code`.
   */
  open(options: { port?: number; address?: string; remote?: { host: string; port: number } }): Promise<DatagramSocket>;
}

// ---- WebSocket -------------------------------------------------------------

/**
 * A message socket: emits `open`, `message` (data: Buffer, isBinary: boolean),
 * `close`, and `error` (Error).
 */
export interface MessageSocket extends EventEmitter {
  send(data: Buffer | string, binary: boolean): void;
  close(): void;
}

export interface WebSocketBackend {
  connect(url: string, options: { headers: Record<string, string> }): MessageSocket;
}

export interface WebSocketServerBackend {
  /** Serves WebSocket upgrades; each accepted (already open) socket goes to `onSocket`. */
  listen(
    options: { port: number; host: string },
    onSocket: (socket: MessageSocket, info: { remoteAddress: string; target: string }) => void,
  ): Promise<ListeningServer>;
}

// ---- Stack control (ipconfig, routes, ARP, ICMP) -------------------------

/** Addresses are dotted strings here: the facade converts to and from Phoenix's forms. */
export interface StackInterfaceConfig {
  ip: string | null;
  /** Prefix length. */
  netmask: number;
  up: boolean;
}

export type RouteAction = 'unicast' | 'broadcast' | 'local' | 'unreachable' | 'prohibit' | 'blackhole';

export interface StackRoute {
  table: number;
  source: string;
  /** Prefix length. */
  sourceNetmask: number;
  action: RouteAction;
  device?: string;
  destination?: string;
}

export interface StackControl {
  /** Reads (no `info`) or changes an interface; null when the device has no configuration. Throws `No such device`. */
  ipconfig(device: string, info?: { ip?: string; netmask?: number; up?: boolean }): StackInterfaceConfig | null;
  routeList(table: number): StackRoute[] | null;
  /** Throws `Route already exists`. */
  routeAdd(route: StackRoute): void;
  /** Returns whether a route was removed; throws `Route table does not exist`. */
  routeRemove(source: string, prefix: number, table: number): boolean;
  arpList(device: string): Array<{ ip: string; mac: string }>;
  arpSet(device: string, ip: string, mac: string | null): void;
  /** Sends an ICMP echo request; resolves with the round-trip time, rejects with a Node-style code on timeout/unreachable. */
  ping(ip: string): Promise<{ rtt: number }>;
  /** Sends an unsolicited control message (pong, unreachable, timeout); absent when the stack cannot. */
  sendControl?(ip: string, type: 'pong' | 'unreachable' | 'timeout', error?: string): void;
  /** Control messages the stack receives unasked (pings, unreachables, time exceeded); returns an unsubscribe. */
  onControl?(listener: (e: { type: 'ping' | 'pong' | 'unreachable' | 'timeout'; from: string }) => void): () => void;
}
