import type { DatagramInfo, DatagramSocket } from '../backends/backends';
import { errorText } from './error-text';
import { Handle, HandleContext } from './handle';
import { MessageQueue } from './message-queue';
import { Encoding, parseReadModes, ReadModeArg, ReadResult, toBytes } from './read-modes';
import { addressText } from './stream-handle';

/** Where a datagram handle sends and how it lets go: its own socket, or one peer of a listener's socket. */
export interface DatagramPort {
  socket: DatagramSocket;
  /** The peer (a listener's source); absent for a connected socket of our own. */
  peer?: DatagramInfo;
  /** Called when the handle closes. */
  release(): void;
}

/**
 * A UDP conversation (`udp://host:port`, Phoenix's `pdp`): `write` sends one
 * datagram per argument; `read` reads inside the oldest datagram received,
 * `null` when none is waiting; `handle_data_ready` says when one came.
 */
export class UDPHandle extends Handle {
  private readonly queue = new MessageQueue();
  private port: DatagramPort | null = null;

  constructor(ctx: HandleContext, private readonly encoding: Encoding, source: Promise<DatagramPort> | DatagramPort) {
    super(ctx, source instanceof Promise ? 'connecting' : 'open');
    if (source instanceof Promise) {
      source.then(
        (p) => this.attach(p),
        (err) => {
          if (!this.closedByUser) this.setStatus('error', errorText(err));
        },
      );
    } else this.attach(source);
  }

  private attach(port: DatagramPort): void {
    if (this.closedByUser) {
      port.release();
      return;
    }
    this.port = port;
    if (!port.peer) {
      port.socket.on('message', (data: Buffer) => this.deliver(data));
      port.socket.on('error', (err: Error) => {
        if (!this.closedByUser) this.setStatus('error', errorText(err));
      });
    }
    if (this.currentStatus !== 'open') this.setStatus('open');
  }

  /** A datagram for this handle (called by its own socket, or by the listener that routes its peer here). */
  deliver(data: Uint8Array): void {
    if (this.closedByUser) return;
    this.queue.push(data);
    this.dataReady();
  }

  read(...modes: ReadModeArg[]): ReadResult {
    this.ensureState('read from', 'open', 'error');
    return this.queue.read(parseReadModes(modes), this.encoding);
  }

  /** Sends each argument as one datagram. */
  write(...data: Array<string | Uint8Array | number>): void {
    this.ensureState('write to', 'open');
    const { socket, peer } = this.port!;
    for (const d of data) socket.send(toBytes(d), peer);
  }

  localIP(): string | null {
    this.ensureUsable('read from');
    return this.port ? addressText(this.port.socket.localAddress) : null;
  }

  remoteIP(): string | null {
    this.ensureUsable('read from');
    const p = this.port?.peer ?? this.port?.socket.remote;
    return p ? addressText(p.address) : null;
  }

  protected release(): void {
    this.queue.clear();
    this.port?.release();
  }
}
