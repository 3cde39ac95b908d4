import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { defaultClock, Timer, type HttpClock, type RandomSource } from '../common/clock';
import { HttpError } from '../common/errors';
import { toBuffer } from '../common/io';

/**
 * RFC 6455 WebSocket over any Duplex, after the handshake. Written here rather
 * than taken from the `ws` package: see the package README.
 *
 * Events: 'message' (data: Buffer, isBinary: boolean), 'ping' (Buffer),
 * 'pong' (Buffer), 'close' (code: number, reason: string) once, and 'error'
 * (HttpError) for protocol violations — only when someone listens, so a peer
 * cannot crash the process.
 */
export const enum Opcode {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xa,
}

export type WebSocketState = 'open' | 'closing' | 'closed';

export interface WebSocketOptions {
  /** 'client' masks what it sends and refuses masked frames; 'server' the reverse. */
  role: 'client' | 'server';
  clock?: HttpClock;
  /** Mask keys (clients). Defaults to crypto randomness; a seeded `Rng` makes runs replayable. */
  random?: RandomSource;
  /** Largest message (after reassembly) accepted; bigger ones close with 1009. Default 16 MiB. */
  maxPayload?: number;
  /** How long to wait for the peer's close frame / TCP close before dropping the stream. Default 5000 ms. */
  closeTimeout?: number;
  /** The negotiated subprotocol ('' for none). */
  protocol?: string;
  /** Bytes already read past the handshake. */
  head?: Buffer;
}

export interface SendOptions {
  /** Send as a binary message (default: binary for bytes, text for strings). */
  binary?: boolean;
  /** Split the message into frames of at most this many payload bytes. */
  fragmentSize?: number;
}

const CLOSE_OK = (code: number) =>
  (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014 && code !== 1015) || (code >= 3000 && code <= 4999);

export class WebSocket extends EventEmitter {
  readonly role: 'client' | 'server';
  readonly protocol: string;
  private _state: WebSocketState = 'open';
  private readonly socket: Duplex;
  private readonly random: RandomSource | null;
  private readonly maxPayload: number;
  private readonly closeTimeout: number;
  private readonly closeTimer: Timer;
  // receive state
  private chunks: Buffer[] = [];
  private buffered = 0;
  private fragments: Buffer[] = [];
  private fragmentSize = 0;
  private fragmentOpcode = 0;
  private closeSent = false;
  private closeReceived = false;
  private closeCode = 1006;
  private closeReason = '';
  private emittedClose = false;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });
  /** Resolves when the connection is closed, with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  private resolveClosed!: (v: { code: number; reason: string }) => void;

  constructor(socket: Duplex, options: WebSocketOptions) {
    super();
    this.socket = socket;
    this.role = options.role;
    this.protocol = options.protocol ?? '';
    this.random = options.random ?? null;
    this.maxPayload = options.maxPayload ?? 16 * 1024 * 1024;
    this.closeTimeout = options.closeTimeout ?? 5000;
    this.closeTimer = new Timer(options.clock ?? defaultClock(), () => this.socket.destroy());
    this.closed = new Promise((r) => (this.resolveClosed = r));
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('end', () => this.onSocketGone());
    socket.on('close', () => this.onSocketGone());
    socket.on('error', () => this.onSocketGone());
    // Start reading on a later turn, so whoever gets this object can attach listeners before the first event.
    const head = options.head;
    setImmediate(() => {
      if (head && head.length) this.onData(head);
      if (!this.userPaused) socket.resume();
    });
  }

  get readyState(): WebSocketState {
    return this._state;
  }

  /** Bytes queued in the stream below and not yet sent. */
  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  /** Sends one message. Returns false when not open (nothing sent) or when the stream is asking us to slow down. */
  send(data: string | Uint8Array, options: SendOptions = {}): boolean {
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw new TypeError('WebSocket.send: data must be a string or a Uint8Array');
    const frag = options.fragmentSize;
    if (frag !== undefined && !(Number.isInteger(frag) && frag > 0)) throw new RangeError('WebSocket.send: fragmentSize must be a positive integer');
    if (this._state !== 'open') return false;
    const binary = options.binary ?? typeof data !== 'string';
    const payload = toBuffer(data);
    const opcode = binary ? Opcode.Binary : Opcode.Text;
    if (!frag || payload.length <= frag) return this.writeFrame(opcode, payload, true);
    let ok = true;
    for (let off = 0; off < payload.length; off += frag) {
      const end = Math.min(off + frag, payload.length);
      ok = this.writeFrame(off === 0 ? opcode : Opcode.Continuation, payload.subarray(off, end), end === payload.length);
    }
    return ok;
  }

  ping(data: string | Uint8Array = Buffer.alloc(0)): boolean {
    const p = toBuffer(data);
    if (p.length > 125) throw new RangeError('WebSocket.ping: payload over 125 bytes');
    return this._state === 'open' && this.writeFrame(Opcode.Ping, p, true);
  }

  pong(data: string | Uint8Array = Buffer.alloc(0)): boolean {
    const p = toBuffer(data);
    if (p.length > 125) throw new RangeError('WebSocket.pong: payload over 125 bytes');
    return this._state === 'open' && this.writeFrame(Opcode.Pong, p, true);
  }

  /** Starts the closing handshake. `code`: 1000 or 3000-4999; `reason`: at most 123 bytes of UTF-8. */
  close(code = 1000, reason = ''): void {
    if (code !== 1000 && !(code >= 3000 && code <= 4999)) throw new RangeError(`WebSocket.close: code must be 1000 or 3000-4999, got ${code}`);
    if (Buffer.byteLength(reason) > 123) throw new RangeError('WebSocket.close: reason over 123 bytes');
    if (this._state !== 'open') return;
    this.sendClose(code, reason);
  }

  /** Drops the connection without a closing handshake (close code 1006). */
  terminate(): void {
    this.socket.destroy();
  }

  /** Stops reading from the peer (backpressure); `resume` starts again. */
  pause(): void {
    this.userPaused = true;
    this.socket.pause();
  }

  resume(): void {
    this.userPaused = false;
    this.socket.resume();
  }

  private userPaused = false;

  private sendClose(code: number | null, reason: string): void {
    if (this.closeSent) return;
    this.closeSent = true;
    this._state = 'closing';
    const payload = code === null ? Buffer.alloc(0) : Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason, 'utf8')]);
    this.writeFrame(Opcode.Close, payload, true);
    this.closeTimer.start(this.closeTimeout);
    if (this.closeReceived && this.role === 'server') this.socket.end();
  }

  private writeFrame(opcode: number, payload: Buffer, fin: boolean): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return false;
    const len = payload.length;
    const mask = this.role === 'client';
    const headLen = 2 + (len < 126 ? 0 : len < 65536 ? 2 : 8) + (mask ? 4 : 0);
    const head = Buffer.allocUnsafe(headLen);
    head[0] = (fin ? 0x80 : 0) | opcode;
    let o = 2;
    if (len < 126) head[1] = len;
    else if (len < 65536) {
      head[1] = 126;
      head.writeUInt16BE(len, 2);
      o = 4;
    } else {
      head[1] = 127;
      head.writeUInt32BE(Math.floor(len / 0x100000000), 2);
      head.writeUInt32BE(len >>> 0, 6);
      o = 10;
    }
    if (!mask) {
      this.socket.write(head);
      return len ? this.socket.write(payload) : true;
    }
    head[1] |= 0x80;
    const key = this.maskKey();
    key.copy(head, o);
    const masked = Buffer.allocUnsafe(len);
    for (let i = 0; i < len; i++) masked[i] = payload[i] ^ key[i & 3];
    return this.socket.write(Buffer.concat([head, masked]));
  }

  private maskKey(): Buffer {
    if (!this.random) return randomBytes(4);
    const k = Buffer.allocUnsafe(4);
    k.writeUInt32BE(this.random.nextU32() >>> 0, 0);
    return k;
  }

  private onData(d: Buffer): void {
    if (this._state === 'closed' || this.closeReceived) return;
    this.chunks.push(d);
    this.buffered += d.length;
    this.parseFrames();
  }

  private take(n: number): Buffer {
    let out: Buffer;
    const first = this.chunks[0];
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let o = 0;
      while (o < n) {
        const c = this.chunks[0];
        const k = Math.min(c.length, n - o);
        c.copy(out, o, 0, k);
        o += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0];
    return Buffer.concat(this.chunks, Math.min(this.buffered, 14)).subarray(0, n);
  }

  private parseFrames(): void {
    while (this.buffered >= 2 && !this.closeReceived && this._state !== 'closed') {
      const h = this.peek(2);
      const b0 = h[0];
      const b1 = h[1];
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      const masked = (b1 & 0x80) !== 0;
      let len = b1 & 0x7f;
      const ext = len === 126 ? 2 : len === 127 ? 8 : 0;
      const headLen = 2 + ext + (masked ? 4 : 0);
      if (b0 & 0x70) return this.fail(1002, 'reserved bits set without a negotiated extension');
      if (opcode > 0xa || (opcode > 0x2 && opcode < 0x8)) return this.fail(1002, `unknown opcode ${opcode}`);
      const control = opcode >= 0x8;
      if (control && (!fin || len > 125)) return this.fail(1002, 'control frames must be whole and at most 125 bytes');
      if (masked !== (this.role === 'server')) return this.fail(1002, this.role === 'server' ? 'client frames must be masked' : 'server frames must not be masked');
      if (this.buffered < headLen) return;
      const hb = this.peek(headLen);
      if (len === 126) len = hb.readUInt16BE(2);
      else if (len === 127) {
        const hi = hb.readUInt32BE(2);
        if (hi > 0x1fffff) return this.fail(1009, 'frame length too large');
        len = hi * 0x100000000 + hb.readUInt32BE(6);
      }
      if (!control && this.fragmentSize + len > this.maxPayload) return this.fail(1009, `message over ${this.maxPayload} bytes`);
      if (this.buffered < headLen + len) return;
      this.take(headLen);
      const key = masked ? hb.subarray(headLen - 4, headLen) : null;
      let payload = len ? this.take(len) : Buffer.alloc(0);
      if (key) {
        const copy = Buffer.allocUnsafe(len);
        for (let i = 0; i < len; i++) copy[i] = payload[i] ^ key[i & 3];
        payload = copy;
      } else if (len && this.chunks.length && payload.buffer === this.chunks[0].buffer) {
        payload = Buffer.from(payload); // do not pin a larger chunk
      }
      this.onFrame(fin, opcode, payload);
    }
  }

  private onFrame(fin: boolean, opcode: number, payload: Buffer): void {
    switch (opcode) {
      case Opcode.Continuation:
        if (this.fragmentOpcode === 0) return this.fail(1002, 'continuation frame without a message to continue');
        this.fragments.push(payload);
        this.fragmentSize += payload.length;
        if (fin) {
          const all = Buffer.concat(this.fragments, this.fragmentSize);
          const op = this.fragmentOpcode;
          this.fragments = [];
          this.fragmentSize = 0;
          this.fragmentOpcode = 0;
          this.deliver(op, all);
        }
        return;
      case Opcode.Text:
      case Opcode.Binary:
        if (this.fragmentOpcode !== 0) return this.fail(1002, 'new message before the last one ended');
        if (fin) return this.deliver(opcode, payload);
        this.fragmentOpcode = opcode;
        this.fragments = [payload];
        this.fragmentSize = payload.length;
        return;
      case Opcode.Ping:
        if (this._state === 'open') this.writeFrame(Opcode.Pong, payload, true);
        this.emit('ping', payload);
        return;
      case Opcode.Pong:
        this.emit('pong', payload);
        return;
      case Opcode.Close: {
        let code = 1005;
        let reason = '';
        if (payload.length === 1) return this.fail(1002, 'close frame with a 1-byte payload');
        if (payload.length >= 2) {
          code = payload.readUInt16BE(0);
          if (!CLOSE_OK(code)) return this.fail(1002, `invalid close code ${code}`);
          try {
            reason = this.utf8.decode(payload.subarray(2));
          } catch {
            return this.fail(1007, 'close reason is not UTF-8');
          }
        }
        this.closeReceived = true;
        this.closeCode = code;
        this.closeReason = reason;
        if (!this.closeSent) this.sendClose(code === 1005 ? null : code, '');
        else if (this.role === 'server') this.socket.end();
        // A client waits for the server to close the TCP connection (RFC 6455 7.1.1), within closeTimeout.
        return;
      }
    }
  }

  private deliver(opcode: number, data: Buffer): void {
    if (this._state !== 'open' && this._state !== 'closing') return;
    if (opcode === Opcode.Text) {
      try {
        this.utf8.decode(data);
      } catch {
        return this.fail(1007, 'text message is not UTF-8');
      }
    }
    this.emit('message', data, opcode === Opcode.Binary);
  }

  /** Fails the connection: a close frame with `code`, then the stream is closed. */
  private fail(code: number, message: string): void {
    if (this.listenerCount('error') > 0) this.emit('error', new HttpError('WS_PROTOCOL_ERROR', message));
    this.chunks = [];
    this.buffered = 0;
    this.closeReceived = true; // read no more
    this.closeCode = code;
    this.closeReason = message;
    if (!this.closeSent) {
      this.closeSent = true;
      this._state = 'closing';
      this.writeFrame(Opcode.Close, Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(message.slice(0, 100), 'utf8')]), true);
    }
    this.socket.end();
    this.closeTimer.start(this.closeTimeout);
  }

  private onSocketGone(): void {
    if (this.emittedClose) return;
    if (!this.socket.destroyed && !this.closeReceived && !this.closeSent) {
      // The peer ended without a closing handshake.
      this.socket.destroy();
    }
    if (!this.socket.destroyed && this.socket.readableEnded === false) {
      this.socket.destroy();
    }
    this.emittedClose = true;
    this._state = 'closed';
    this.closeTimer.stop();
    const code = this.closeReceived ? this.closeCode : 1006;
    const reason = this.closeReceived ? this.closeReason : '';
    this.resolveClosed({ code, reason });
    this.emit('close', code, reason);
  }
}
