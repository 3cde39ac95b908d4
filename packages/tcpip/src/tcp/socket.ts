/**
 * Node-compatible sockets over TcpConnection: `TcpSocket` is a `Duplex` (backpressure end to end:
 * write() returns false while our send buffer is full; reads stop draining the receive buffer
 * when the consumer stops, which closes the TCP window), `TcpServer` an EventEmitter like
 * `net.Server`. Connection events arrive synchronously from inside the stack and are deferred
 * to process.nextTick, so user callbacks never run inside segment processing.
 */
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import type { TcpConnection, TcpConnectionEvents } from './connection';
import { TcpError } from './errors';
import type { TcpLayer, TcpListener } from './tcp-layer';
import { formatIpv4 } from '../wire/ipv4-address';

export interface TcpSocketOptions {
  /** Keep the writable side open after the peer's FIN (Node's allowHalfOpen; default false). */
  allowHalfOpen?: boolean;
  /** Bytes pulled from the receive buffer per chunk pushed to the stream. */
  readChunkSize?: number;
  /** Writable/readable highWaterMark of the stream itself. */
  highWaterMark?: number;
}

// The Duplex options of a socket with default options: the stream only reads them, so one object serves all.
const DEFAULT_STREAM_OPTIONS = Object.freeze({ allowHalfOpen: false, emitClose: true, autoDestroy: true, decodeStrings: true });

const EV_CONNECT = 1;
const EV_DATA = 2;
const EV_WRITABLE = 4;
const EV_END = 8;
const EV_TIMEOUT = 16;
const EV_CLOSE = 32;

export class TcpSocket extends Duplex implements TcpConnectionEvents {
  /** True until the handshake completes (like net.Socket#connecting). */
  connecting: boolean;
  private conn: TcpConnection | null;
  private pendingEvents = 0;
  private flushQueued = false;
  private closeError: TcpError | null = null;
  private pendingChunk: Uint8Array | null = null;
  private pendingOffset = 0;
  private pendingCallback: ((err?: Error | null) => void) | null = null;
  private readWanted = false;
  private pumping = false;
  private endPushed = false;
  private readonly chunkSize: number;
  private timeoutMs = 0;
  private readonly flushFn = (): void => this.flush();
  readonly remoteFamily = 'IPv4';
  // Addresses as numbers; their strings are built on first use (most sockets never ask).
  private readonly remoteIp: number | undefined;
  private readonly remotePortNum: number | undefined;
  private readonly localIp: number | undefined;
  private readonly localPortNum: number | undefined;
  private remoteAddrText: string | undefined;
  private localAddrText: string | undefined;
  private connBytesSent = 0;
  private connBytesRead = 0;

  constructor(readonly layer: TcpLayer, conn: TcpConnection | null,
    options: TcpSocketOptions & { connecting?: boolean } = {}) {
    super(options.allowHalfOpen || options.highWaterMark !== undefined ? {
      allowHalfOpen: options.allowHalfOpen ?? false,
      highWaterMark: options.highWaterMark,
      emitClose: true,
      autoDestroy: true,
      decodeStrings: true,
    } : DEFAULT_STREAM_OPTIONS);
    this.conn = conn;
    this.chunkSize = options.readChunkSize ?? 65536;
    this.connecting = options.connecting ?? false;
    if (conn) {
      conn.events = this;
      this.remoteIp = conn.remoteAddress;
      this.remotePortNum = conn.remotePort;
      this.localIp = conn.localAddress;
      this.localPortNum = conn.localPort;
      // An accepted connection may already hold data or the peer's FIN.
      if (!this.connecting) {
        if (conn.readableLength > 0 || conn.finReceived) this.post(EV_DATA);
        if (conn.state === 'CLOSED') this.onClose(conn.error);
      }
    }
  }

  // --- Node net.Socket-like properties
  get remoteAddress(): string | undefined {
    if (this.remoteAddrText === undefined && this.remoteIp !== undefined) this.remoteAddrText = formatIpv4(this.remoteIp);
    return this.remoteAddrText;
  }
  get remotePort(): number | undefined { return this.remotePortNum; }
  get localAddress(): string | undefined {
    if (this.localAddrText === undefined && this.localIp !== undefined) this.localAddrText = formatIpv4(this.localIp);
    return this.localAddrText;
  }
  get localPort(): number | undefined { return this.localPortNum; }
  get localFamily(): string { return 'IPv4'; }
  get bytesRead(): number { return this.connBytesRead; }
  get bytesWritten(): number { return this.connBytesSent; }
  get pending(): boolean { return this.connecting; }
  /** The TCP state of the underlying connection ('CLOSED' once gone), TIME-WAIT included after 'close'. */
  get tcpState(): string { return this.conn ? this.layer.stateOf(this.conn) : 'CLOSED'; }
  /**
   * The underlying connection (for diagnostics and tests). After 'close' a connection in TIME-WAIT
   * is detached: the layer keeps a small record of it instead, and this object stays as it was
   * (`tcpState` follows TIME-WAIT to its end).
   */
  get connection(): TcpConnection | null { return this.conn; }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.destroyed) return 'closed';
    const r = this.readable, w = this.writable;
    return r && w ? 'open' : r ? 'readOnly' : w ? 'writeOnly' : 'closed';
  }

  address(): { address: string; family: string; port: number } | Record<string, never> {
    const address = this.localAddress;
    if (address === undefined || this.localPortNum === undefined) return {};
    return { address, family: 'IPv4', port: this.localPortNum };
  }

  setNoDelay(noDelay = true): this {
    this.conn?.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    this.conn?.setKeepAlive(enable, initialDelay > 0 ? initialDelay : undefined);
    return this;
  }

  /** Emits 'timeout' after `ms` without activity (0 disables), like net.Socket#setTimeout. */
  setTimeout(ms: number, callback?: () => void): this {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`timeout must be a finite number >= 0, got ${ms}`);
    this.timeoutMs = ms;
    this.conn?.setIdleTimeout(ms);
    if (callback) {
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    return this;
  }

  get timeout(): number | undefined {
    return this.timeoutMs || undefined;
  }

  ref(): this { return this; }
  unref(): this { return this; }

  /** Abort with RST (Node 16.17+ API). */
  resetAndDestroy(): this {
    if (this.conn && this.conn.state !== 'CLOSED') {
      const c = this.conn;
      c.events = null;
      c.abort();
    }
    return this.destroy();
  }

  // --- TcpConnectionEvents (called inside the stack: defer)
  onConnect(): void { this.post(EV_CONNECT); }
  onData(): void { this.post(EV_DATA); }
  // Only a write waiting for space needs the wake-up: a later write sees the freed space itself.
  onWritable(): void { if (this.pendingChunk !== null) this.post(EV_WRITABLE); }
  onEnd(): void { this.post(EV_END); }
  onTimeout(): void { this.post(EV_TIMEOUT); }
  onClose(error: TcpError | null): void {
    this.closeError = error;
    this.post(EV_CLOSE);
  }

  private post(ev: number): void {
    this.pendingEvents |= ev;
    if (!this.flushQueued) {
      this.flushQueued = true;
      process.nextTick(this.flushFn);
    }
  }

  private flush(): void {
    this.flushQueued = false;
    const ev = this.pendingEvents;
    this.pendingEvents = 0;
    if (this.destroyed) return;
    if (ev & EV_CONNECT && this.connecting) {
      this.connecting = false;
      this.emit('connect');
      this.emit('ready');
    }
    if (ev & (EV_DATA | EV_END)) this.pump();
    if (ev & EV_WRITABLE) this.continueWrite();
    if (ev & EV_TIMEOUT) this.emit('timeout');
    if (ev & EV_CLOSE) this.connectionClosed();
  }

  private connectionClosed(): void {
    const conn = this.conn;
    const err = this.closeError;
    if (err) {
      err.syscall = this.connecting ? 'connect' : 'read';
      err.address = this.remoteAddress;
      err.port = this.remotePortNum;
      if (this.connecting) err.message = `connect ${err.code} ${this.remoteAddress}:${this.remotePortNum}`;
      else err.message = `read ${err.code}`;
      this.failPendingWrite(err);
      this.destroy(err);
      return;
    }
    // Closed without error: drain what is left, then end.
    if (conn) this.pump();
    if (!this.endPushed && conn && conn.readableLength === 0) {
      this.endPushed = true;
      this.push(null);
    }
    this.failPendingWrite(epipe);
    if (this.connecting) this.destroy(new TcpError('ECONNABORTED'));
  }

  /** Fails a write still waiting for buffer space. The error is built only then: an Error with a stack trace per close costs. */
  private failPendingWrite(err: Error | (() => Error)): void {
    const cb = this.pendingCallback;
    if (cb) {
      this.pendingCallback = null;
      this.pendingChunk = null;
      cb(typeof err === 'function' ? err() : err);
    }
  }

  // --- Duplex implementation
  override _read(_size: number): void {
    this.readWanted = true;
    this.pump();
  }

  private pump(): void {
    const conn = this.conn;
    if (!conn || this.pumping || this.endPushed) return;
    this.pumping = true;
    try {
      while (this.readWanted && conn.readableLength > 0) {
        // Up to the end of a storage piece: a view, never a copy.
        const chunk = conn.readBuffer(Math.min(this.chunkSize, conn.receiveBuffer.contiguous))!;
        this.connBytesRead += chunk.length;
        if (!this.push(chunk)) this.readWanted = false;
      }
      if (conn.readableLength === 0 && (conn.finReceived || (conn.state === 'CLOSED' && !conn.error)) && !this.endPushed) {
        this.endPushed = true;
        this.push(null);
      }
    } finally {
      this.pumping = false;
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const conn = this.conn;
    if (!conn || conn.state === 'CLOSED') {
      callback(conn?.error ?? new TcpError('EPIPE'));
      return;
    }
    const n = conn.write(chunk, 0, chunk.length);
    this.connBytesSent += n;
    if (n === chunk.length) {
      callback();
      return;
    }
    if (n === 0 && conn.writableSpace === 0 && !['SYN-SENT', 'SYN-RECEIVED', 'ESTABLISHED', 'CLOSE-WAIT'].includes(conn.state)) {
      callback(new TcpError('EPIPE'));
      return;
    }
    this.pendingChunk = chunk;
    this.pendingOffset = n;
    this.pendingCallback = callback;
  }

  private continueWrite(): void {
    const conn = this.conn;
    const chunk = this.pendingChunk;
    if (!conn || !chunk) return;
    const n = conn.write(chunk, this.pendingOffset, chunk.length - this.pendingOffset);
    this.connBytesSent += n;
    this.pendingOffset += n;
    if (this.pendingOffset >= chunk.length) {
      const cb = this.pendingCallback!;
      this.pendingChunk = null;
      this.pendingCallback = null;
      cb();
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    const conn = this.conn;
    if (conn && conn.state !== 'CLOSED') conn.shutdown();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const conn = this.conn;
    if (conn) {
      conn.events = null;
      if (conn.state !== 'CLOSED') {
        if (error) conn.abort();
        else conn.close();
        // Nobody reads from or writes to it any more: TIME-WAIT needs only a small record.
        if (conn.state === 'TIME-WAIT') this.layer.compact(conn);
      }
    }
    this.failPendingWrite(error ?? epipe);
    callback(error);
  }
}

/** A listening socket, like net.Server: 'listening', 'connection' (TcpSocket), 'close', 'error'. */
export class TcpServer extends EventEmitter {
  /**
   * Accepted sockets not yet closed. A count, as net.Server's: nothing needs the sockets themselves,
   * and a Set hashed every new socket object on its way in (0.1-0.2 us per connection).
   */
  private socketCount = 0;
  private closing = false;
  private acceptQueued = false;
  /** Refuse (RST) connections beyond this many open sockets, like net.Server#maxConnections. */
  maxConnections = Infinity;
  /** The 'close' listener of every accepted socket (`this` is the socket): one function per server. */
  private readonly socketClosed: (this: TcpSocket) => void;

  constructor(private readonly layer: TcpLayer, readonly listener: TcpListener, private readonly socketOptions: TcpSocketOptions = {}) {
    super();
    const server = this;
    this.socketClosed = function (this: TcpSocket): void {
      server.socketCount--;
      server.maybeClosed();
    };
    listener.onAcceptable = () => {
      if (!this.acceptQueued) {
        this.acceptQueued = true;
        process.nextTick(() => this.acceptAll());
      }
    };
    process.nextTick(() => this.emit('listening'));
  }

  get listening(): boolean {
    return !this.listener.closed;
  }

  address(): { address: string; family: string; port: number } {
    return { address: formatIpv4(this.listener.address), family: 'IPv4', port: this.listener.port };
  }

  private acceptAll(): void {
    this.acceptQueued = false;
    for (;;) {
      const conn = this.listener.accept();
      if (!conn) break;
      if (this.socketCount >= this.maxConnections) {
        conn.abort();
        continue;
      }
      const sock = new TcpSocket(this.layer, conn, this.socketOptions);
      this.socketCount++;
      sock.on('close', this.socketClosed); // 'close' comes once (the stream's closeEmitted): no once() wrapper per socket
      this.emit('connection', sock);
    }
  }

  /** Stops accepting; 'close' follows once every accepted socket has closed. */
  close(callback?: (err?: Error) => void): this {
    if (callback) this.once('close', callback);
    if (this.closing) return this;
    this.closing = true;
    this.layer.closeListener(this.listener);
    process.nextTick(() => this.maybeClosed());
    return this;
  }

  getConnections(callback: (err: Error | null, count: number) => void): this {
    process.nextTick(() => callback(null, this.socketCount));
    return this;
  }

  ref(): this { return this; }
  unref(): this { return this; }

  private maybeClosed(): void {
    if (this.closing && this.socketCount === 0) {
      this.closing = false;
      this.emit('close');
    }
  }
}

function epipe(): Error {
  return new TcpError('EPIPE');
}
