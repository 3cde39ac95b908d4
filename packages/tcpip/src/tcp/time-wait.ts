/**
 * TIME-WAIT as a small record. A short connection's TIME-WAIT lasts 2MSL (60 s), so a busy server
 * holds thousands of them; as whole connections (about 1.8 KB each with their rings, estimators
 * and boxed numbers) every one was copied twice by the young-generation collector before it
 * reached the old generation, and that copying was the largest share of the collector's work in
 * the connections benchmark. Once no socket holds a TIME-WAIT connection, the layer keeps this
 * record instead (about 300 bytes) in the same
 * demux chain and TIME-WAIT FIFO. A segment for it, or `TcpLayer.connections()`, rebuilds a
 * connection from it (`TcpConnection.restoreTimeWait`), so every segment in TIME-WAIT still goes
 * through the connection's own code: nothing of the protocol is implemented twice.
 */
import type { TcpConnection } from './connection';
import type { FifoItem } from './timer-heap';
import type { Ipv4Address } from '../wire/ipv4-address';
import { seq } from './seq';

export class TimeWaitRecord implements FifoItem {
  deadline = Infinity;
  fifoPrev: FifoItem | null = null;
  fifoNext: FifoItem | null = null;
  inFifo = false;
  /** Never in the timer heap (records live in the FIFO only); for the heap's `remove`. */
  readonly heapIndex = -1;
  demuxKey = 0;
  /** The next entry of the demux chain (a connection or a record). */
  demuxNext: TcpConnection | TimeWaitRecord | null = null;
  state: 'TIME-WAIT' | 'CLOSED' = 'TIME-WAIT';

  // What TIME-WAIT reads (connection.ts `timeWaitRecord` lists why); timestamps as int32.
  closeAt = 0;
  iss = seq(0);
  irs = seq(0);
  sndUna = seq(0);
  sndNxt = seq(0);
  sndMax = seq(0);
  sndWnd = 0;
  sndWl1 = seq(0);
  sndWl2 = seq(0);
  maxSndWnd = 0;
  sndWscale = 0;
  rcvNxt = seq(0);
  rcvAdv = seq(0);
  rcvWscale = 0;
  rcvCapacity = 0;
  advMss = 0;
  pathMtu = 0;
  tsEnabled = false;
  tsRecent = 0;
  tsOffset = 0;
  lastAckSent = seq(0);
  sackOk = false;
  keepAlive = false;
  keepAliveIdle = 0;
  passive = false;

  constructor(
    readonly localAddress: Ipv4Address,
    readonly localPort: number,
    readonly remoteAddress: Ipv4Address,
    readonly remotePort: number,
  ) {}
}
