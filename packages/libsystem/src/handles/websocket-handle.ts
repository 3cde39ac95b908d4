import type { MessageSocket } from '../backends/backends';
import { errorText } from './error-text';
import { Handle, HandleContext } from './handle';
import { MessageQueue } from './message-queue';
import { Encoding, parseReadModes, ReadModeArg, ReadResult, toBytes } from './read-modes';

/**
 * A WebSocket (`ws://`, `wss://`): `connecting` until the handshake is done,
 * then `open`. `write` sends one message per argument (binary frames with
 * `encoding: "binary"`, text frames otherwise); `read` reads inside the
 * oldest message received, `null` when none is waiting.
 */
export class WebSocketHandle extends Handle {
  private readonly queue = new MessageQueue();

  /** `accepted`: a socket a listener accepted, open from the start. */
  constructor(ctx: HandleContext, private readonly encoding: Encoding, private readonly socket: MessageSocket, accepted = false) {
    super(ctx, accepted ? 'open' : 'connecting');
    socket.on('open', () => {
      if (!this.closedByUser) this.setStatus('open');
    });
    socket.on('message', (data: Buffer | string) => {
      if (this.closedByUser) return;
      this.queue.push(typeof data === 'string' ? Buffer.from(data) : data);
      this.dataReady();
    });
    socket.on('error', (err: Error) => {
      if (!this.closedByUser && this.currentStatus !== 'closed') this.setStatus('error', errorText(err));
    });
    socket.on('close', () => {
      if (!this.closedByUser && this.currentStatus !== 'error') this.setStatus('closed');
    });
  }

  read(...modes: ReadModeArg[]): ReadResult {
    this.ensureState('read from', 'open', 'closed', 'error');
    return this.queue.read(parseReadModes(modes), this.encoding);
  }

  /** Sends each argument as one message. */
  write(...data: Array<string | Uint8Array | number>): void {
    this.ensureState('write to', 'open');
    for (const d of data) {
      const bytes = toBytes(d);
      if (this.encoding === 'binary') this.socket.send(bytes, true);
      else this.socket.send(bytes.toString('utf8'), false);
    }
  }

  protected release(): void {
    this.queue.clear();
    try {
      this.socket.close();
    } catch {
      // Closing a socket that never opened may throw in some clients; it is gone either way.
    }
  }
}
