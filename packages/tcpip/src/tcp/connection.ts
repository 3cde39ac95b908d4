/**
 * One TCP connection: the RFC 9293 state machine, sans IO. Segments come in through
 * `segmentArrives`, time through `onTimer`, user calls through write/read/shutdown/abort; segments
 * go out through the `TcpConnectionIo` the layer provides, and user-visible happenings go to the
 * `TcpConnectionEvents` handler (called synchronously; sockets defer them).
 *
 * Implemented: RFC 9293 (all states, simultaneous open/close, half-close), RFC 5961 (challenge
 * ACKs, RST/SYN/ACK checks), RFC 6298 (RTO, Karn, backoff), RFC 5681 + 6582 (fast retransmit,
 * NewReno recovery, via the CongestionControl interface), RFC 7323 (window scale, timestamps,
 * PAWS), RFC 9293 3.8.6 (sender and receiver SWS avoidance, Nagle, delayed ACKs, zero-window
 * probes), keepalive, user timeout, RFC 2018 + 6675 (SACK blocks out; a scoreboard of the peer's
 * blocks drives retransmission in recovery: pipe, NextSeg rule 1), RFC 2883 (D-SACK counted).
 */
import { ByteRing } from './byte-ring';
import type { TcpConfig } from './config';
import { CongestionControl, congestionControlFactory } from './congestion';
import { TcpError, TcpErrorCode } from './errors';
import { ReceiveTuner } from './receive-tuner';
import { RttEstimator } from './rtt';
import { TimeWaitRecord } from './time-wait';
import { NO_SEQ, SeqNum, seq, seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin } from './seq';
import type { FifoItem, HeapItem } from './timer-heap';
import {
  TCP_ACK, TCP_FIN, TCP_MAX_WSCALE, TCP_PSH, TCP_RST, TCP_SYN, TcpOptionSet, TcpSegmentView,
} from '../wire/tcp';
import type { Ipv4Address } from '../wire/ipv4-address';

export type TcpState = 'CLOSED' | 'LISTEN' | 'SYN-SENT' | 'SYN-RECEIVED' | 'ESTABLISHED' | 'FIN-WAIT-1' | 'FIN-WAIT-2'
  | 'CLOSE-WAIT' | 'CLOSING' | 'LAST-ACK' | 'TIME-WAIT';

/** What a connection needs from its layer. */
export interface TcpConnectionIo {
  readonly config: TcpConfig;
  /**
   * Sends one segment of `conn`: payload is conn.sendBuffer[dataPos, dataPos+dataLen).
   * Returns false when IP could not take it (no route etc.).
   */
  transmit(conn: TcpConnection, flags: number, seqNo: SeqNum, ackNo: SeqNum, window: number,
    options: TcpOptionSet | null, dataPos: number, dataLen: number): boolean;
  /** RFC 5961 section 7 rate limit. */
  challengeAckAllowed(now: number): boolean;
  /** A passive connection reached ESTABLISHED (accept queue). */
  established(conn: TcpConnection): void;
  /** The connection reached CLOSED: forget it. */
  closed(conn: TcpConnection): void;
  /** The connection's deadline may have changed. */
  reschedule(conn: TcpConnection): void;
  /**
   * Inside a receive batch with ACK coalescing on: the layer calls `flushAck` at the batch's end
   * and returns true. Otherwise false (ACK now).
   */
  deferAck(conn: TcpConnection): boolean;
  readonly counters: TcpCounters;
}

export interface TcpCounters {
  segmentsIn: number;
  segmentsOut: number;
  retransmits: number;
  fastRetransmits: number;
  timeouts: number;
  challengeAcks: number;
  rstIn: number;
  rstOut: number;
  pawsDrops: number;
  outOfWindow: number;
  zeroWindowProbes: number;
  keepAliveProbes: number;
  dupAcks: number;
  oooSegments: number;
  /** D-SACK blocks received (RFC 2883): the peer got a segment twice. */
  dsacks: number;
  /** Segments retransmitted by SACK-based loss recovery (RFC 6675 NextSeg). */
  sackRetransmits: number;
  /** In-order data segments taken by the receive fast path (header prediction). */
  fastPathSegments: number;
}

/** User-visible happenings. Called synchronously from inside the stack: do not re-enter it. */
export interface TcpConnectionEvents {
  /** Reached ESTABLISHED. */
  onConnect?(): void;
  /** New in-order data can be read. */
  onData?(): void;
  /** Space was freed in the send buffer. */
  onWritable?(): void;
  /** The peer's FIN arrived in order: after the buffered data, there is no more. */
  onEnd?(): void;
  /** Idle timer (setTimeout) expired. */
  onTimeout?(): void;
  /** The connection is gone: `error` is null for a normal close or a local abort. */
  onClose?(error: TcpError | null): void;
}

const MAX_OOO_RANGES = 64;
/**
 * In-order segments ACKed without coalescing after out-of-order data (Linux's quick-ACK mode after
 * a hole, TCP_MAX_QUICKACKS = 16 there): while losses come, every ACK counts (one lost stretch ACK
 * leaves a small window without feedback until the probe timer). 32 measured best of 8/16/32 at
 * 10 % loss in the matrix (5 seeds).
 */
const QUICK_ACK_SEGMENTS = 32;
/** A window update after a read that the SYN's window cap delayed waits while the peer may still send this many full segments. */
const WINDOW_UPDATE_NOW_MSS = 4;
/** The options of the segment being sent (per connection, it was an object and a typed array for each). */
const SHARED_TX_OPTIONS = new TcpOptionSet();
const PERSIST_MIN = 200;
const PERSIST_MAX = 60_000;
/** RFC 8985 7.2: WCDelAckT, the worst-case delayed ACK of the peer, added to the PTO of a lone segment. */
const TLP_DELACK_ALLOWANCE = 200;
const TLP_MIN_PTO = 10;
/** Recovery retransmissions remembered for lost-retransmission detection (RFC 8985 6). */
const RTX_LOG_SIZE = 64;

/** The smallest path MTU TCP sizes segments for (as Linux's min_pmtu). */
export const TCP_MIN_PMTU = 552;
/** The largest IPv4 packet a GSO super-segment fills (64 KiB, as Linux's default gso_max_size). */
const GSO_MAX_BYTES = 65535;

export class TcpConnection implements HeapItem, FifoItem {
  deadline = Infinity;
  heapIndex = -1;
  /** Links of the layer's TIME-WAIT list (DeadlineFifo), used instead of the heap in TIME-WAIT. */
  fifoPrev: TcpConnection | null = null;
  fifoNext: TcpConnection | null = null;
  inFifo = false;
  /** Demux hash and the next connection with the same hash, owned by the layer. */
  demuxKey = 0;
  demuxNext: TcpConnection | TimeWaitRecord | null = null;
  state: TcpState = 'CLOSED';
  events: TcpConnectionEvents | null = null;
  /** The listener a passive connection came from (until accepted). */
  listener: unknown = null;
  /** Opened by a listener (a failed handshake goes back to LISTEN quietly). */
  passive = false;
  /** The peer offered window scaling in its SYN. */
  private peerWscale = false;
  /** No user holds this connection any more (closed socket): it finishes on its own. */
  orphaned = false;
  error: TcpError | null = null;
  /** Last soft error (ICMP) reported if the connection later times out. */
  softError: TcpErrorCode | null = null;

  // --- send sequence space
  iss = seq(0);
  sndUna = seq(0);
  sndNxt = seq(0);
  /** Highest sequence number sent + 1 (sndNxt rewinds on timeout, sndMax does not). */
  sndMax = seq(0);
  /** Send window in bytes (scaled). */
  sndWnd = 0;
  sndWl1 = seq(0);
  sndWl2 = seq(0);
  maxSndWnd = 0;
  /** Sequence number of sendBuffer's first byte. */
  bufSeq = seq(0);
  finQueued = false;
  finSeq = seq(0);
  readonly sendBuffer: ByteRing;

  // --- receive sequence space
  irs = seq(0);
  rcvNxt = seq(0);
  /** Right edge of the window we advertised. */
  rcvAdv = seq(0);
  readonly receiveBuffer: ByteRing;
  /** Out-of-order ranges [start, end) as sequence numbers, sorted. */
  private ooo: number[] = [];
  private pendingFinSeq = NO_SEQ;
  /** The peer's FIN has been received in order. */
  finReceived = false;

  // --- options
  sndWscale = 0;
  rcvWscale = 0;
  /** Our MSS as advertised. */
  advMss = 536;
  /** The peer's MSS option (or the default). */
  peerMss = 536;
  /** Largest payload we send (peer MSS, path MTU and option space). */
  effMss = 536;
  /** Estimate of the peer's segment size (for delayed-ACK counting). */
  private rcvMss = 536;
  tsEnabled = false;
  // int32s (the wire's uint32 bits, as the parser's tsVal): Smis whatever the value, so the field is never
  // generalised mid-run (a uint32 in a Smi field was, deprecating the connection maps) nor boxed per read.
  private tsRecent = 0;
  private tsOffset = 0;
  private lastAckSent = seq(0);
  private wantWscale = false;
  private wantTs = false;
  private wantSack = false;
  /** Both sides sent SACK-permitted: our ACKs carry SACK blocks (RFC 2018). Incoming blocks are not used yet. */
  sackOk = false;
  /** The out-of-order range holding the most recently received segment (reported first, RFC 2018 4). */
  private lastOooStart = NO_SEQ;
  pathMtu = 1500;
  /** The NIC fills in our checksums (set by the layer from the route's interface). */
  txChecksumOffload = false;
  /** The NIC segments TCP itself (TSO): the largest IPv4 packet it takes, else 0 (set by the layer). */
  tsoMaxBytes = 0;
  /**
   * Software GSO (set by the layer when the NIC has no TSO): an output burst of full segments goes
   * to IP as one super-segment, which it cuts into those same segments.
   */
  gso = false;

  // --- timers (absolute times, Infinity when off)
  private rtxAt = Infinity;
  private persist = false;
  private persistBackoff = 0;
  private delackAt = Infinity;
  private keepaliveAt = Infinity;
  private closeAt = Infinity;
  private idleAt = Infinity;
  retries = 0;
  private progressAt = 0;
  private lastSendAt = 0;
  private keepProbes = 0;
  keepAlive = false;
  keepAliveIdle: number;
  idleTimeout = 0;
  noDelay: boolean;

  readonly rtt: RttEstimator;
  private rttTiming = false;
  private rttSeq = seq(0);
  private rttTime = 0;
  cc: CongestionControl;
  dupAcks = 0;
  inRecovery = false;
  private recoverPoint = seq(0);
  private inflation = 0;
  /**
   * SACK scoreboard (RFC 6675): ranges [start, end) above SND.UNA the peer reported with SACK
   * blocks, sorted and merged. Cleared on a retransmission timeout (the peer may renege).
   */
  private sacked: number[] = [];
  /** Recovery after a timeout with the scoreboard kept: every hole counts as lost. */
  private rtoRecovery = false;
  /** RFC 6675 HighRxt: the end of the highest retransmission of the current recovery. */
  private highRxt = seq(0);
  /** D-SACK blocks this connection received. */
  dsackCount = 0;
  /** The deadline in rtxAt when it is a tail loss probe (RFC 8985), else Infinity. */
  private tlpAt = Infinity;
  /** A probe retransmitted data: a sequence number inside it (-1: none pending), and the D-SACK count then. */
  private tlpRtxEnd = NO_SEQ;
  private tlpDsacks = 0;
  /** Tail loss probes sent, and recoveries started by the probe timer on SACK information. */
  tlpCount = 0;
  rackRecoveries = 0;
  /**
   * The retransmissions of the current recovery, oldest first (RFC 8985 6 for lost
   * retransmissions): a ring of [start, end, SND.MAX when sent, time sent], allocated once.
   */
  private rtxLog: number[] | null = null;
  /**
   * Receive auto-tuning state while the buffer may still grow, made when the first in-order data
   * arrives. A field, not a WeakMap keyed by the connection: one entry per short connection made
   * the collector trace ephemerons and cost ~5 % of a connection's CPU, for one word per endpoint.
   */
  private tuner: ReceiveTuner | null = null;
  private rtxHead = 0;
  private rtxCount = 0;
  /** Retransmissions found lost (data sent after them was SACKed) and sent again. */
  lostRetransmits = 0;
  /** The RTO deadline a recovery probe timer stands in front of. */
  private probeRtoAt = Infinity;
  /** Recovery retransmissions sent again by that timer. */
  recoveryProbes = 0;
  /** End of the last window-edge partial segment (Minshall: one outstanding at a time). */
  private smallSegEnd = seq(0);
  /** Our timestamp clock at the last retransmission timeout, -1 before any (valid samples echo later values). */
  private rtoTsVal = -1;

  private unackedBytes = 0;
  private ackNow = false;
  /** The window edge we advertised is still the SYN's (no segment sent since). */
  private synWindowEdge = false;
  /** The layer will call flushAck at the end of the current receive batch. */
  ackDeferred = false;
  /** predictedData took a segment in this batch: flushAck runs output() for it. */
  private fastPathTook = false;
  /** In-order segments still to ACK without coalescing (after out-of-order data). */
  private quickAcks = 0;
  // Filled just before each transmit, which writes them into the frame at once: one set serves all connections.
  private readonly opts = SHARED_TX_OPTIONS;

  /** Counters of this connection. */
  bytesSent = 0;
  bytesReceived = 0;
  retransmitCount = 0;

  constructor(
    private readonly io: TcpConnectionIo,
    readonly localAddress: Ipv4Address,
    readonly localPort: number,
    readonly remoteAddress: Ipv4Address,
    readonly remotePort: number,
    private readonly nowFn: () => number,
  ) {
    const c = io.config;
    this.sendBuffer = new ByteRing(c.sendBufferSize);
    this.receiveBuffer = new ByteRing(c.receiveBufferSize, true); // readBuffer hands out views
    this.rtt = new RttEstimator(c.initialRto, c.minRto, c.maxRto);
    this.cc = congestionControlFactory(c.congestionControl, c.initialWindow)();
    this.noDelay = c.noDelay;
    this.keepAliveIdle = c.keepAliveIdle;
    this.wantWscale = c.windowScaling;
    this.wantTs = c.timestamps;
    this.wantSack = c.sack;
  }

  // ------------------------------------------------------------------ opening

  /** Active open: sends a SYN and enters SYN-SENT. */
  openActive(iss: SeqNum, advMss: number, tsOffset: number): void {
    const now = this.nowFn();
    this.iss = iss;
    this.sndUna = iss;
    this.sndNxt = iss;
    this.sndMax = iss;
    this.bufSeq = seqAdd(iss, 1);
    this.recoverPoint = iss;
    this.advMss = advMss;
    this.tsOffset = tsOffset | 0;
    this.rcvWscale = this.wantWscale ? wscaleFor(this.receiveLimit()) : 0;
    this.state = 'SYN-SENT';
    this.sendSyn(now);
    this.sndNxt = seqAdd(iss, 1);
    this.sndMax = this.sndNxt;
    this.rtxAt = now + this.rtt.rto;
    this.progressAt = now;
    this.io.reschedule(this);
  }

  /** Passive open from a listener: `syn` is the peer's SYN; sends a SYN-ACK, enters SYN-RECEIVED. */
  openPassive(syn: TcpSegmentView, iss: SeqNum, advMss: number, tsOffset: number): void {
    const now = this.nowFn();
    this.iss = iss;
    this.sndUna = iss;
    this.sndNxt = iss;
    this.sndMax = iss;
    this.bufSeq = seqAdd(iss, 1);
    this.recoverPoint = iss;
    this.advMss = advMss;
    this.tsOffset = tsOffset | 0;
    this.irs = seq(syn.seq);
    this.rcvNxt = seqAdd(this.irs, 1);
    this.takeSynOptions(syn);
    this.sndWnd = syn.window; // never scaled in a SYN
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = this.irs;
    this.state = 'SYN-RECEIVED';
    this.sendSyn(now);
    this.sndNxt = seqAdd(iss, 1);
    this.sndMax = this.sndNxt;
    this.rtxAt = now + this.rtt.rto;
    this.progressAt = now;
    this.io.reschedule(this);
  }

  /** The largest receive buffer this connection may have: the window scale must reach it. */
  private receiveLimit(): number {
    const c = this.io.config;
    return c.receiveAutoTune ? Math.max(c.receiveBufferMax, this.receiveBuffer.maxCapacity) : this.receiveBuffer.maxCapacity;
  }

  private takeSynOptions(syn: TcpSegmentView): void {
    this.peerMss = syn.mss > 0 ? syn.mss : this.io.config.defaultMss;
    if (this.wantWscale && syn.wscale >= 0) {
      this.peerWscale = true;
      this.sndWscale = Math.min(syn.wscale, TCP_MAX_WSCALE);
      if (this.state !== 'SYN-SENT') this.rcvWscale = wscaleFor(this.receiveLimit());
    } else {
      this.peerWscale = false;
      this.sndWscale = 0;
      this.rcvWscale = 0;
    }
    this.sackOk = this.wantSack && syn.sackPermitted;
    if (this.wantTs && syn.hasTimestamp) {
      this.tsEnabled = true;
      this.tsRecent = syn.tsVal;
    } else {
      this.tsEnabled = false;
    }
    this.updateEffMss();
  }

  /**
   * Whether segments may carry DF. Below TCP_MIN_PMTU (Linux's min_pmtu) a learned path MTU
   * is more likely forged than real: segments are sized for TCP_MIN_PMTU and sent without
   * DF, so a real small-MTU hop fragments them instead of the connection stalling.
   */
  get dontFragment(): boolean {
    return this.pathMtu >= TCP_MIN_PMTU;
  }

  private updateEffMss(): void {
    const mtuMss = Math.max(this.pathMtu, TCP_MIN_PMTU) - 40;
    let mss = Math.min(this.peerMss, mtuMss);
    if (this.tsEnabled) mss -= 12;
    if (mss < 64) mss = 64; // guard against absurd MSS options
    if (mss !== this.effMss) {
      this.effMss = mss;
      this.cc.setMss(mss);
    }
    this.rcvMss = Math.min(this.rcvMss, this.advMss);
  }

  /** A smaller MTU learned while sending (no resend from here: we are inside output). */
  lowerMtu(mtu: number): void {
    if (mtu >= 68 && mtu < this.pathMtu) {
      this.pathMtu = mtu;
      this.updateEffMss();
    }
  }

  /** The path MTU changed (ICMP fragmentation needed, or a route change). */
  setPathMtu(mtu: number): void {
    if (!(mtu >= 68) || mtu === this.pathMtu) return;
    const shrank = mtu < this.pathMtu;
    this.pathMtu = mtu;
    this.updateEffMss();
    if (shrank && this.isSynchronized() && seqGt(this.sndMax, this.sndUna)) {
      // Resend what is outstanding in smaller segments (RFC 1191 "fast retransmit" after PMTU drop).
      this.sndNxt = this.sndUna;
      this.rttTiming = false;
      this.output(this.nowFn());
      this.io.reschedule(this);
    }
  }

  // ------------------------------------------------------------------ user calls

  /** Buffers data for sending; returns the bytes taken (less than `len` when the buffer is full). */
  write(src: Uint8Array, offset = 0, len = src.length - offset): number {
    if (this.finQueued || !this.canQueueData()) return 0;
    const n = this.sendBuffer.append(src, offset, len);
    if (n > 0) {
      const now = this.nowFn();
      this.touchIdle(now);
      if (this.isSynchronized()) {
        if (this.sndUna === this.sndMax) {
          // Restart after idle (RFC 5681 4.1): do not burst a stale window into the network.
          if (this.lastSendAt > 0 && now - this.lastSendAt > this.rtt.rto && this.cc.onIdleRestart) this.cc.onIdleRestart(now);
          this.progressAt = now;
        }
        this.output(now);
      }
      this.io.reschedule(this);
    }
    return n;
  }

  /** Free space in the send buffer. */
  get writableSpace(): number {
    return this.canQueueData() && !this.finQueued ? this.sendBuffer.free : 0;
  }

  /** Bytes readable in order. */
  get readableLength(): number {
    return this.receiveBuffer.length;
  }

  /** Copies up to `len` in-order bytes to dst and frees them (which may open the window). */
  read(dst: Uint8Array, offset = 0, len = dst.length - offset): number {
    const n = Math.min(len, this.receiveBuffer.length);
    if (n <= 0) return 0;
    this.receiveBuffer.copyOut(0, dst, offset, n);
    this.consumeReceived(n);
    return n;
  }

  /** Reads up to `max` bytes into a new Buffer (null if none). */
  readBuffer(max = Infinity): Buffer | null {
    const n = Math.min(max, this.receiveBuffer.length);
    if (n <= 0) return null;
    // Large reads are views, not copies: the receive storage is never written below its head again.
    const b = this.receiveBuffer.chunk(n);
    this.consumeReceived(n);
    return b;
  }

  private consumeReceived(n: number): void {
    const rb = this.receiveBuffer;
    rb.consume(n, this.ooo.length === 0 && this.finReceived);
    const now = this.nowFn();
    this.touchIdle(now);
    if (!this.isSynchronized() || this.finReceived) return;
    if (this.io.config.receiveAutoTune) this.tuneReceiveBuffer(now);
    // Window update when the window opened by enough to matter (receiver SWS avoidance).
    const cur = Math.max(0, seqDiff(this.rcvAdv, this.rcvNxt));
    if (rb.free >= 2 * cur && rb.free - cur >= Math.min(rb.maxCapacity >>> 1, 2 * this.advMss)) {
      if (!this.synWindowEdge || this.bytesReceived >= this.rcvMss || cur < WINDOW_UPDATE_NOW_MSS * this.advMss ||
          this.io.config.delayedAck === 0) {
        this.ackNow = true;
        this.output(now);
        this.io.reschedule(this);
      } else if (this.delackAt === Infinity) {
        // The window grew only because the SYN's unscaled field capped it at 64 KiB, and the peer
        // can still send several segments: an update at once would cost a segment per connection
        // (the first read of every request). Our next segment carries it, or the delayed-ACK timer.
        this.delackAt = now + this.io.config.delayedAck;
        this.io.reschedule(this);
      }
    }
  }

  /** Half-close: a FIN follows the buffered data. */
  shutdown(): void {
    if (this.finQueued) return;
    switch (this.state) {
      case 'SYN-SENT':
      case 'SYN-RECEIVED':
      case 'ESTABLISHED':
      case 'CLOSE-WAIT':
        break;
      default:
        return;
    }
    this.finQueued = true;
    this.finSeq = seqAdd(this.bufSeq, this.sendBuffer.length);
    if (this.state === 'ESTABLISHED') this.state = 'FIN-WAIT-1';
    else if (this.state === 'CLOSE-WAIT') this.state = 'LAST-ACK';
    // SYN states move on at establishment.
    if (this.isSynchronized()) {
      const now = this.nowFn();
      this.output(now);
      this.io.reschedule(this);
    }
  }

  /**
   * The user is done with the connection (socket destroyed). With unread or still-arriving data,
   * that is an abort (RFC 9293 / Linux: RST); otherwise the connection closes gracefully on its own.
   */
  close(): void {
    if (this.state === 'CLOSED') return;
    this.orphaned = true;
    this.events = null;
    if (this.state === 'SYN-SENT') { this.finish(null); return; }
    if (this.receiveBuffer.length > 0 || (!this.finReceived && this.state !== 'TIME-WAIT' && !this.finQueued)) {
      this.abort();
      return;
    }
    if (!this.finQueued && !this.finReceived) this.shutdown();
    if (this.state === 'CLOSE-WAIT') this.shutdown();
    if (this.state === 'FIN-WAIT-2') this.closeAt = this.nowFn() + this.io.config.finWait2Timeout;
    this.io.reschedule(this);
  }

  /** Abort: RST to the peer (from a synchronized state) and CLOSED. */
  abort(): void {
    if (this.state === 'CLOSED') return;
    if (this.isSynchronized() && this.state !== 'TIME-WAIT') this.sendRst(this.sndMax, true);
    this.finish(null);
  }

  setNoDelay(on: boolean): void {
    this.noDelay = on;
    // Only unsent data can have been held back by Nagle (a socket made noDelay at once has none).
    if (on && this.isSynchronized() && this.sendBuffer.length > seqDiff(this.sndNxt, this.bufSeq)) {
      this.output(this.nowFn());
      this.io.reschedule(this);
    }
  }

  setKeepAlive(on: boolean, idle?: number): void {
    this.keepAlive = on;
    if (idle !== undefined && idle > 0) this.keepAliveIdle = idle;
    this.keepProbes = 0;
    this.keepaliveAt = on && this.isSynchronized() ? this.nowFn() + this.keepAliveIdle : Infinity;
    this.io.reschedule(this);
  }

  /** Idle timeout (socket.setTimeout): onTimeout after `ms` without activity; 0 disables. */
  setIdleTimeout(ms: number): void {
    this.idleTimeout = ms;
    this.idleAt = ms > 0 ? this.nowFn() + ms : Infinity;
    this.io.reschedule(this);
  }

  private touchIdle(now: number): void {
    if (this.idleTimeout > 0) this.idleAt = now + this.idleTimeout;
  }

  isClosed(): boolean {
    return this.state === 'CLOSED';
  }

  isSynchronized(): boolean {
    const s = this.state;
    return s !== 'CLOSED' && s !== 'LISTEN' && s !== 'SYN-SENT' && s !== 'SYN-RECEIVED';
  }

  private canQueueData(): boolean {
    const s = this.state;
    return s === 'SYN-SENT' || s === 'SYN-RECEIVED' || s === 'ESTABLISHED' || s === 'CLOSE-WAIT';
  }

  /** Bytes sent but not acknowledged. */
  get flightSize(): number {
    return seqDiff(this.sndNxt, this.sndUna);
  }

  get cwnd(): number {
    return this.cc.cwnd + this.inflation;
  }

  // ------------------------------------------------------------------ segment arrival

  /**
   * RFC 9293 3.10.7: a segment for this connection. `buf` holds the payload at seg.payloadOffset.
   * True when the fast path (predictedData) took it.
   */
  segmentArrives(seg: TcpSegmentView, buf: Uint8Array): boolean {
    const now = this.nowFn();
    this.io.counters.segmentsIn++;
    // The layer places the connection's timers at the batch's end (flushAck), as after a coalesced ACK.
    if (this.state === 'ESTABLISHED' && this.predictedData(seg, buf, now)) return true;
    if (this.state === 'SYN-SENT') this.synSentArrives(seg, buf, now);
    else if (this.state !== 'CLOSED') this.otherArrives(seg, buf, now);
    if (this.state !== 'CLOSED') this.io.reschedule(this);
    return false;
  }

  private synSentArrives(seg: TcpSegmentView, buf: Uint8Array, now: number): void {
    const flags = seg.flags;
    const ack = seq(seg.ack);
    if (flags & TCP_ACK) {
      if (seqLe(ack, this.iss) || seqGt(ack, this.sndMax)) {
        if (!(flags & TCP_RST)) this.sendRstTo(ack, 0, false);
        return;
      }
    }
    if (flags & TCP_RST) {
      this.io.counters.rstIn++;
      // RFC 5961 3.2: only an RST acknowledging our SYN is believed.
      if (flags & TCP_ACK) this.finish(new TcpError('ECONNREFUSED'));
      return;
    }
    if (!(flags & TCP_SYN)) return;
    this.irs = seq(seg.seq);
    this.rcvNxt = seqAdd(this.irs, 1);
    this.takeSynOptions(seg);
    if (this.tsEnabled) this.tsRecent = seg.tsVal;
    if (flags & TCP_ACK) {
      this.sndUna = ack;
      this.sndWnd = seg.window << this.sndWscale;
      this.maxSndWnd = this.sndWnd;
      this.sndWl1 = this.irs;
      this.sndWl2 = ack;
      if (this.tsEnabled && seg.tsEcr !== 0) this.rtt.sample(this.tsDiff(seg.tsEcr));
      else if (this.retries === 0) this.rtt.sample(now - this.progressAt);
      this.rtxAt = Infinity;
      this.retries = 0;
      this.rcvAdv = this.rcvNxt;
      this.establish(now);
      // Data riding on the SYN-ACK.
      if (seg.payloadLength > 0) this.acceptData(seq(seg.seq + 1), buf, seg.payloadOffset, seg.payloadLength, now);
      this.ackNow = true;
      if (flags & TCP_FIN && seg.payloadLength === 0) this.processFin(seqAdd(this.irs, 1), now);
      this.output(now);
    } else {
      // Simultaneous open (RFC 9293 figure 7).
      this.state = 'SYN-RECEIVED';
      this.sndWnd = seg.window;
      this.maxSndWnd = this.sndWnd;
      this.sndWl1 = this.irs;
      this.sndNxt = this.iss;
      this.sendSyn(now);
      this.sndNxt = seqAdd(this.iss, 1);
      this.rtxAt = now + this.rtt.rto;
    }
  }

  /**
   * Header prediction (as Linux's tcp_rcv_established): in a receive batch, the next in-order data
   * segment of an ESTABLISHED connection that acknowledges nothing new and keeps the window, with
   * nothing else going on (no reordering, recovery, persist, pending ACK), is taken here with the
   * few updates otherArrives would make for it, and the per-connection work that does not depend on
   * the segment (output, timer placement) is left to the end of the batch (flushAck): one
   * pass for the batch's run of segments, as GRO gives Linux. Whatever fails a test goes the full
   * way, with the same outcome. Returns false, having changed nothing, when the segment does not fit.
   */
  private predictedData(seg: TcpSegmentView, buf: Uint8Array, now: number): boolean {
    const len = seg.payloadLength;
    const segSeq = seq(seg.seq);
    if ((seg.flags & ~TCP_PSH) !== TCP_ACK || len === 0 || segSeq !== this.rcvNxt || seq(seg.ack) !== this.sndUna ||
        seg.sackCount !== 0 || (seg.window << this.sndWscale) !== this.sndWnd) return false;
    // Acceptable at once (in the window and the buffer: nothing to trim), and no ACK owed now.
    if (len > this.receiveBuffer.free || len > seqDiff(this.rcvAdv, this.rcvNxt) || this.ooo.length !== 0 ||
        this.pendingFinSeq !== NO_SEQ || this.inRecovery || this.persist || this.ackNow || this.quickAcks !== 0 ||
        this.orphaned || this.io.config.delayedAck === 0) return false;
    const ts = this.tsEnabled && seg.hasTimestamp;
    if (ts && this.tsRecent !== 0 && ((seg.tsVal - this.tsRecent) | 0) < 0) return false; // PAWS: the full way counts it
    // Last: the layer queues the connection for flushAck at the batch's end (false outside a batch, or without coalescing).
    if (!this.ackDeferred && !this.io.deferAck(this)) return false;
    this.io.counters.fastPathSegments++;
    this.fastPathTook = true;
    this.keepProbes = 0;
    if (this.keepAlive) this.keepaliveAt = now + this.keepAliveIdle;
    if (ts && seqLe(segSeq, this.lastAckSent)) this.tsRecent = seg.tsVal;
    // The window update of the fifth check: same window, so only its sequence marks move.
    if (seqLt(this.sndWl1, segSeq) || (this.sndWl1 === segSeq && seqLe(this.sndWl2, this.sndUna))) {
      this.sndWl1 = segSeq;
      this.sndWl2 = this.sndUna;
    }
    if (len > this.rcvMss) this.rcvMss = Math.min(len, this.advMss);
    if (this.io.config.receiveAutoTune) this.receiveRttSample(seg, len, now);
    // acceptData's in-order case with nothing out of order.
    const rb = this.receiveBuffer;
    rb.writeAt(rb.length, buf, seg.payloadOffset, len);
    rb.length += len;
    this.rcvNxt = seqAdd(this.rcvNxt, len);
    this.bytesReceived += len;
    this.unackedBytes += len;
    if (this.unackedBytes < 2 * this.rcvMss && this.delackAt === Infinity) this.delackAt = now + this.io.config.delayedAck;
    this.touchIdle(now);
    // Per segment, as the full way: a holder that reads at once (sans-IO) opens the window as before.
    if (this.events?.onData) this.events.onData();
    return true;
  }

  private otherArrives(seg: TcpSegmentView, buf: Uint8Array, now: number): void {
    const flags = seg.flags;
    let segSeq = seq(seg.seq);
    let syn = (flags & TCP_SYN) !== 0;
    let fin = (flags & TCP_FIN) !== 0;
    let dataOff = seg.payloadOffset;
    let dataLen = seg.payloadLength;
    const counters = this.io.counters;

    if (this.state === 'SYN-RECEIVED' && syn && segSeq === this.irs) {
      if (!(flags & TCP_ACK) && !(flags & TCP_RST)) {
        // The peer retransmitted its SYN: our SYN-ACK was lost.
        this.sendSyn(now);
        return;
      }
      // Simultaneous open: the peer's SYN-ACK; its SYN is old news, its ACK is what matters.
      if ((flags & TCP_ACK) && !(flags & TCP_RST)) { syn = false; segSeq = seqAdd(segSeq, 1); }
    }

    // RFC 7323 PAWS.
    if (this.tsEnabled && seg.hasTimestamp && !(flags & TCP_RST) && this.tsRecent !== 0 &&
        ((seg.tsVal - this.tsRecent) | 0) < 0) {
      counters.pawsDrops++;
      this.sendAck(now);
      return;
    }

    // Sequence acceptability (RFC 9293 3.10.7.4 first check).
    const rcvWnd = Math.max(0, seqDiff(this.rcvAdv, this.rcvNxt));
    const segLen = dataLen + (syn ? 1 : 0) + (fin ? 1 : 0);
    let acceptable: boolean;
    if (segLen === 0) {
      acceptable = rcvWnd === 0 ? segSeq === this.rcvNxt : inWindow(segSeq, this.rcvNxt, rcvWnd);
    } else if (rcvWnd === 0) {
      acceptable = false;
    } else {
      acceptable = inWindow(segSeq, this.rcvNxt, rcvWnd) || inWindow(seqAdd(segSeq, segLen - 1), this.rcvNxt, rcvWnd);
    }
    // A zero window still takes ACKs (and RSTs) at RCV.NXT; the data is dropped.
    let zeroWindowAckOnly = false;
    if (!acceptable && rcvWnd === 0 && segSeq === this.rcvNxt) {
      zeroWindowAckOnly = true;
    }
    if (!acceptable && !zeroWindowAckOnly) {
      counters.outOfWindow++;
      if (!(flags & TCP_RST)) {
        if (this.state === 'TIME-WAIT' && fin) this.closeAt = now + this.io.config.timeWait;
        this.sendAck(now);
      }
      return;
    }

    // RST (RFC 5961 3.2).
    if (flags & TCP_RST) {
      counters.rstIn++;
      if (segSeq !== this.rcvNxt) {
        this.challengeAck(now);
        return;
      }
      switch (this.state) {
        case 'SYN-RECEIVED':
          this.finish(this.passive ? null : new TcpError('ECONNREFUSED'));
          return;
        case 'ESTABLISHED': case 'FIN-WAIT-1': case 'FIN-WAIT-2': case 'CLOSE-WAIT':
          this.finish(new TcpError('ECONNRESET'));
          return;
        default:
          this.finish(null);
          return;
      }
    }

    // SYN in a synchronized state (RFC 5961 4.2): challenge ACK, whatever the sequence number.
    if (syn) {
      if (this.state === 'SYN-RECEIVED' && this.passive) {
        // RFC 9293: a passive connection goes back to LISTEN.
        this.finish(null);
        return;
      }
      this.challengeAck(now);
      return;
    }

    if (!(flags & TCP_ACK)) return;

    // Keepalive bookkeeping: anything acceptable from the peer shows it is alive.
    this.keepProbes = 0;
    if (this.keepAlive) this.keepaliveAt = now + this.keepAliveIdle;

    // Timestamps: RFC 7323 4.3 (update TS.Recent if the segment covers Last.ACK.sent).
    if (this.tsEnabled && seg.hasTimestamp && seqLe(segSeq, this.lastAckSent)) {
      this.tsRecent = seg.tsVal;
    }

    const ack = seq(seg.ack);
    if (this.state === 'SYN-RECEIVED') {
      if (seqLt(this.sndUna, ack) && seqLe(ack, this.sndMax)) {
        this.sndWnd = seg.window << this.sndWscale;
        this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
        this.sndWl1 = segSeq;
        this.sndWl2 = ack;
        if (this.retries === 0) this.rtt.sample(now - this.progressAt);
        this.establish(now);
      } else {
        this.sendRstTo(ack, 0, false);
        return;
      }
    }

    // RFC 5961 5.2: ACKs outside [SND.UNA - MAX.SND.WND, SND.NXT] get an ACK and are dropped.
    if (seqGt(ack, this.sndMax) || seqLt(ack, seqAdd(this.sndUna, -Math.max(this.maxSndWnd, 1)))) {
      counters.outOfWindow++;
      this.challengeAck(now);
      return;
    }

    if (this.sackOk && seg.sackCount > 0) this.takeSack(seg, ack);
    const segWnd = seg.window << this.sndWscale;
    if (seqGt(ack, this.sndUna)) {
      this.newAck(ack, seg, now);
    } else if (ack === this.sndUna && dataLen === 0 && !fin && segWnd === this.sndWnd && segWnd > 0 && !this.persist &&
        seqGt(this.sndMax, this.sndUna)) {
      this.dupAck(now);
    }
    if (this.inRecovery && this.rtxCount > 0 && seg.sackCount > 0) this.detectLostRetransmits(now);
    if (this.inRecovery && this.rtxCount > 0) this.armRecoveryProbe(now);
    // Window update (RFC 9293 3.10.7.4 fifth check).
    if (seqLt(this.sndWl1, segSeq) || (this.sndWl1 === segSeq && seqLe(this.sndWl2, ack))) {
      this.sndWnd = segWnd;
      this.sndWl1 = segSeq;
      this.sndWl2 = ack;
      if (segWnd > this.maxSndWnd) this.maxSndWnd = segWnd;
      if (segWnd > 0 && this.persist) {
        // The window opened: the probe byte beyond the old window was most likely dropped, so
        // resume from SND.UNA (as BSD does when leaving persist).
        this.persist = false;
        this.persistBackoff = 0;
        this.sndNxt = this.sndUna;
        this.rtxAt = Infinity;
      }
    }
    if (this.state === 'CLOSED') return; // finished by the ACK (LAST-ACK)

    if (this.state === 'TIME-WAIT') {
      // Only a retransmitted FIN matters here: acknowledge it and restart 2MSL.
      if (fin) {
        this.closeAt = now + this.io.config.timeWait;
        this.sendAck(now);
      }
      return;
    }

    // Trim to the window: data already received, and data beyond the buffer.
    if (zeroWindowAckOnly) {
      if (dataLen > 0 || fin) this.ackNow = true;
      dataLen = 0;
      fin = false;
    } else {
      const before = seqDiff(this.rcvNxt, segSeq);
      if (before > 0) {
        if (before >= dataLen) {
          // All data is old. A FIN exactly at RCV.NXT survives; one before it was already received.
          if (before > dataLen) fin = false;
          if (dataLen > 0 || before > dataLen) this.ackNow = true;
          dataOff += dataLen;
          dataLen = 0;
        } else {
          dataOff += before;
          dataLen -= before;
          this.ackNow = true;
        }
        segSeq = this.rcvNxt;
      }
      const room = this.receiveBuffer.free - Math.max(0, seqDiff(segSeq, this.rcvNxt));
      if (dataLen > room) {
        dataLen = Math.max(0, room);
        fin = false;
        this.ackNow = true;
      }
    }

    // Text.
    if (dataLen > 0) {
      switch (this.state) {
        case 'ESTABLISHED': case 'FIN-WAIT-1': case 'FIN-WAIT-2':
          if (this.orphaned) {
            // Data for a closed socket: nobody will read it (RFC 9293 3.10.7.4 / Linux): reset.
            this.sendRst(this.sndMax, true);
            this.finish(null);
            return;
          }
          if (seg.payloadLength > this.rcvMss) this.rcvMss = Math.min(seg.payloadLength, this.advMss);
          if (segSeq === this.rcvNxt && this.io.config.receiveAutoTune) this.receiveRttSample(seg, dataLen, now);
          this.acceptData(segSeq, buf, dataOff, dataLen, now);
          break;
        default:
          break; // after the peer's FIN: ignore
      }
    }

    // FIN.
    if (fin) {
      const finSeq = seqAdd(segSeq, dataLen);
      if (finSeq === this.rcvNxt) this.processFin(finSeq, now);
      else if (seqGt(finSeq, this.rcvNxt)) this.pendingFinSeq = finSeq;
    }

    if (!this.isClosed()) this.output(now);
  }

  private newAck(ack: SeqNum, seg: TcpSegmentView, now: number): void {
    const flightBefore = seqDiff(this.sndMax, this.sndUna);
    const acked = seqDiff(ack, this.sndUna);
    // Data bytes acknowledged leave the send buffer.
    const dataEnd = seqAdd(this.bufSeq, this.sendBuffer.length);
    const dataAcked = Math.max(0, seqDiff(seqMin(ack, dataEnd), this.bufSeq));
    if (dataAcked > 0) {
      this.sendBuffer.consume(dataAcked);
      this.bufSeq = seqAdd(this.bufSeq, dataAcked);
    }
    this.sndUna = ack;
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
    if (this.sacked.length > 0) this.trimSacked(ack);
    this.retries = 0;
    this.progressAt = now;
    this.persistBackoff = 0;
    this.softError = null;

    // RTT: timestamps when available (RFC 7323 4.1), otherwise one timed segment (Karn's rule).
    let sample = -1;
    if (this.tsEnabled && seg.hasTimestamp && seg.tsEcr !== 0) {
      // An echo from before our last timeout spans that timeout: the original's ACK was lost
      // and the duplicate's ACK echoes the original (RFC 7323 4.3). Such samples are RTO-sized,
      // and feeding them back inflates the RTO without bound at high loss; skip them (Karn).
      if (this.rtoTsVal < 0 || ((seg.tsEcr - this.rtoTsVal) | 0) >= 0) sample = this.tsDiff(seg.tsEcr);
      this.rttTiming = false;
    } else if (this.rttTiming && seqGe(ack, this.rttSeq)) {
      sample = now - this.rttTime;
      this.rttTiming = false;
    }
    if (sample >= 0) this.rtt.sample(sample);

    // Congestion control and NewReno recovery (RFC 6582).
    if (this.inRecovery) {
      if (seqGe(ack, this.recoverPoint)) {
        this.inRecovery = false;
        this.rtoRecovery = false;
        this.inflation = 0;
        this.dupAcks = 0;
        this.cc.onRecoveryExit(seqDiff(this.sndMax, this.sndUna), now);
      } else {
        // After a timeout the window grows again (slow start) while the holes are resent.
        if (this.rtoRecovery) this.cc.onAck(acked, flightBefore, now, sample);
        // Partial ACK: the next hole is lost too.
        if (this.sacked.length > 0 || this.rtoRecovery) {
          this.sackRecovery(now);
        } else {
          this.retransmitAt(this.sndUna, now);
          this.inflation = Math.max(0, this.inflation - acked + (acked >= this.effMss ? this.effMss : 0));
        }
      }
    } else {
      this.dupAcks = 0;
      this.inflation = 0;
      if (this.tsoMaxBytes > 0 && acked > this.effMss) {
        // An ACK of a TSO super-segment stands for one per wire segment: count them as such (Linux counts segments acked).
        for (let left = acked; left > 0; left -= this.effMss) this.cc.onAck(Math.min(left, this.effMss), flightBefore, now, sample);
      } else {
        this.cc.onAck(acked, flightBefore, now, sample);
      }
    }

    // Retransmission timer (RFC 6298 5.2, 5.3), or the tail loss probe before it.
    if (this.sndUna === this.sndMax) this.rtxAt = Infinity;
    else this.rtxAt = now + this.rtt.rto;
    this.persist = false;
    if (this.tlpRtxEnd !== NO_SEQ && seqGe(ack, this.tlpRtxEnd as SeqNum)) {
      // RFC 8985 7.4: the probe's retransmission repaired a loss unless the peer D-SACKed it.
      if (this.dsackCount === this.tlpDsacks && !this.inRecovery) this.cc.onCongestionEvent(flightBefore, now);
      this.tlpRtxEnd = NO_SEQ;
    }
    if (this.rtxAt !== Infinity) this.armProbe(now);

    const finAcked = this.finQueued && seqGt(ack, this.finSeq);
    if (finAcked) {
      switch (this.state) {
        case 'FIN-WAIT-1':
          this.state = 'FIN-WAIT-2';
          if (this.orphaned) this.closeAt = now + this.io.config.finWait2Timeout;
          break;
        case 'CLOSING':
          this.enterTimeWait(now);
          break;
        case 'LAST-ACK':
          this.finish(null);
          return;
        default:
          break;
      }
    }
    if (dataAcked > 0 && this.events?.onWritable && !this.finQueued) this.events.onWritable();
  }

  private dupAck(now: number): void {
    this.io.counters.dupAcks++;
    this.dupAcks++;
    if (this.inRecovery) {
      if (this.sacked.length > 0) this.sackRecovery(now);
      else this.inflation += this.effMss;
      return;
    }
    // Entering recovery on SACKed bytes alone (RFC 6675 IsLost(SND.UNA)) was tried: it took
    // more timeouts with NewReno at 10 % loss in the matrix, so the count of duplicate ACKs decides.
    if (this.dupAcks < this.dupThresh()) {
      // Limited transmit (RFC 3042): each of the first two duplicate ACKs may clock out one new segment.
      if (this.dupAcks < 3) this.inflation = this.dupAcks * this.effMss;
      // SACKed data above a hole with too few duplicate ACKs (some lost): the probe timer starts recovery.
      if (this.sacked.length > 0) this.armProbe(now);
      return;
    }
    if (seqGe(this.sndUna, this.recoverPoint)) this.enterRecovery(now);
  }

  /**
   * DupThresh: 3, lowered by early retransmit (RFC 5827) to one less than the segments
   * outstanding when fewer than four are and no new segment can go out (small windows, or cwnd
   * just after a timeout): three duplicate ACKs never come from a flight of two or three.
   */
  private dupThresh(): number {
    const flight = seqDiff(this.sndMax, this.sndUna);
    if (flight >= 4 * this.effMss) return 3;
    const pending = this.sendBuffer.length - seqDiff(this.sndMax, this.bufSeq);
    if (pending > 0) {
      // Could output() send a new segment (the same size rules: full, all of it, or half the max window)?
      const room = Math.min(seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndMax), this.cc.cwnd - flight);
      if (room >= this.effMss || (room >= pending && (this.noDelay || flight === 0)) ||
          (room < pending && room > 0 && room >= (this.maxSndWnd >>> 1))) return 3;
    }
    return Math.max(1, Math.ceil(flight / this.effMss) - 1);
  }

  /** Fast retransmit (RFC 5681 3.2, RFC 6582 3.2 step 2) and the start of loss recovery. */
  private enterRecovery(now: number): void {
    this.io.counters.fastRetransmits++;
    this.cc.onCongestionEvent(seqDiff(this.sndMax, this.sndUna), now);
    this.inRecovery = true;
    this.recoverPoint = this.sndMax;
    this.inflation = 3 * this.effMss;
    this.highRxt = this.sndUna;
    this.rtxCount = 0;
    this.retransmitAt(this.sndUna, now);
    this.highRxt = seqMin(seqAdd(this.sndUna, this.effMss), this.sndMax);
    if (this.sacked.length > 0) this.sackRecovery(now);
    this.rtxAt = now + this.rtt.rto;
  }

  /** The largest receive buffer auto-tuning may reach: the ceiling, or what the window field can show. */
  private tuneLimit(): number {
    return Math.min(this.io.config.receiveBufferMax, 65535 << this.rcvWscale);
  }

  /** Receive-side round-trip sampling for auto-tuning, on in-order data (makes the tuner on first use). */
  private receiveRttSample(seg: TcpSegmentView, len: number, now: number): void {
    const rb = this.receiveBuffer;
    // Nothing to tune once the buffer cannot grow.
    if (rb.maxCapacity >= this.tuneLimit()) return;
    let t = this.tuner;
    if (t === null) {
      // The first measure to beat: an initial window's worth (Linux starts from 10 segments).
      t = new ReceiveTuner(Math.min(rb.maxCapacity, 10 * this.advMss), seqAdd(this.rcvNxt, -rb.length), now);
      this.tuner = t;
    }
    if (this.tsEnabled) {
      // A short segment may have waited for the application or Nagle: its echo says little.
      if (seg.hasTimestamp && seg.tsEcr !== 0 && len >= this.rcvMss) t.tsSample(seg.tsEcr, this.tsDiff(seg.tsEcr));
    } else {
      t.windowSample(seqAdd(this.rcvNxt, len), this.rcvAdv, now);
    }
  }

  /** Grows the receive buffer when the application read more in the last round trip than ever before. */
  private tuneReceiveBuffer(now: number): void {
    const rb = this.receiveBuffer;
    const limit = this.tuneLimit();
    if (rb.maxCapacity >= limit) return;
    const t = this.tuner;
    if (t === null) return;
    const fallback = this.rtt.samples > 0 ? this.rtt.srtt : NaN;
    const want = t.adjust(seqAdd(this.rcvNxt, -rb.length), now, fallback, this.advMss);
    // Only ever grows: the window already advertised stays covered (RFC 7323 2.4: no shrinking).
    if (want > rb.maxCapacity) {
      rb.grow(Math.min(want, limit));
      if (rb.maxCapacity >= limit) this.tuner = null;
    }
  }

  private acceptData(segSeq: SeqNum, buf: Uint8Array, off: number, len: number, now: number): void {
    const rb = this.receiveBuffer;
    const offset = seqDiff(segSeq, this.rcvNxt);
    if (offset < 0 || offset + len > rb.free) return;
    if (offset === 0) {
      rb.writeAt(rb.length, buf, off, len);
      rb.length += len;
      this.rcvNxt = seqAdd(this.rcvNxt, len);
      let filledHole = false;
      while (this.ooo.length > 0 && seqLe(this.ooo[0] as SeqNum, this.rcvNxt)) {
        const end = this.ooo[1] as SeqNum;
        if (seqGt(end, this.rcvNxt)) {
          rb.length += seqDiff(end, this.rcvNxt);
          this.rcvNxt = end;
        }
        this.ooo.splice(0, 2);
        filledHole = true;
      }
      this.bytesReceived += len;
      this.unackedBytes += len;
      if (this.quickAcks > 0) this.quickAcks--;
      if (filledHole || this.ooo.length > 0) this.ackNow = true; // RFC 5681 4.2: ACK at once while reordering
      else if (this.io.config.delayedAck === 0) this.ackNow = true;
      else if (this.unackedBytes >= 2 * this.rcvMss) {
        // Every second full segment, or (coalescing) once for all the in-order data of a receive batch.
        if (this.quickAcks > 0 || (!this.ackDeferred && !this.io.deferAck(this))) this.ackNow = true;
      } else if (this.delackAt === Infinity) this.delackAt = now + this.io.config.delayedAck;
      this.touchIdle(now);
      // onData before onEnd: a FIN waiting behind the hole this segment filled comes after the data.
      if (this.events?.onData) this.events.onData();
      if (this.state === 'CLOSED') return;
      if (this.pendingFinSeq !== NO_SEQ && (this.pendingFinSeq as SeqNum) === this.rcvNxt) {
        this.pendingFinSeq = NO_SEQ;
        this.processFin(this.rcvNxt, now);
      }
    } else {
      // Out of order: keep it and ACK at once (the duplicate ACK drives the peer's fast retransmit).
      this.io.counters.oooSegments++;
      this.ackNow = true;
      this.quickAcks = QUICK_ACK_SEGMENTS;
      if (!this.insertOoo(segSeq, seqAdd(segSeq, len))) return;
      this.lastOooStart = segSeq;
      rb.writeAt(rb.length + offset, buf, off, len);
    }
  }

  /** Adds [start, end) to the out-of-order list, merging; false when the list is full. */
  private insertOoo(start: SeqNum, end: SeqNum): boolean {
    return insertSeqRange(this.ooo, start, end);
  }

  /**
   * The end of a receive batch in which in-order data deferred its ACK, or the fast path took
   * data: one ACK covers what is still unacknowledged (nothing if an immediate ACK or data went
   * out since; with less than two segments' worth the delayed-ACK timer armed by acceptData or
   * predictedData stays in charge). The layer then places the connection's timers.
   */
  flushAck(now: number): void {
    this.ackDeferred = false;
    const fast = this.fastPathTook;
    this.fastPathTook = false;
    if (!this.isSynchronized()) return;
    if (this.unackedBytes >= 2 * this.rcvMss) this.ackNow = true;
    else if (!fast) return;
    // After the fast path, the output() the full way would have run per segment (it has nothing to send unless
    // something outside the segments changed).
    this.output(now);
  }

  private processFin(finSeq: SeqNum, now: number): void {
    if (this.finReceived) return;
    this.rcvNxt = seqAdd(finSeq, 1);
    this.finReceived = true;
    switch (this.state) {
      case 'ESTABLISHED':
        this.state = 'CLOSE-WAIT';
        // A delayed ACK, as Linux's pingpong mode on a FIN: the application usually closes at once
        // and our FIN carries the ACK (one segment less per connection); else the timer sends it.
        if (this.io.config.delayedAck > 0) {
          if (this.delackAt === Infinity) this.delackAt = now + this.io.config.delayedAck;
        } else this.ackNow = true;
        break;
      case 'SYN-RECEIVED':
        this.state = 'CLOSE-WAIT';
        this.ackNow = true;
        break;
      case 'FIN-WAIT-1':
        // Our FIN not yet acknowledged (else we would be in FIN-WAIT-2): simultaneous close.
        this.ackNow = true;
        this.state = 'CLOSING';
        break;
      case 'FIN-WAIT-2':
        this.ackNow = true;
        this.enterTimeWait(now);
        break;
      default:
        this.ackNow = true;
        break;
    }
    if (this.events?.onEnd) this.events.onEnd();
  }

  private establish(now: number): void {
    this.state = 'ESTABLISHED';
    this.cc.init(this.effMss, now);
    this.rcvAdv = seqMax(this.rcvAdv, this.rcvNxt);
    if (this.keepAlive) this.keepaliveAt = now + this.keepAliveIdle;
    if (this.finQueued) {
      // shutdown() came before establishment.
      this.finSeq = seqAdd(this.bufSeq, this.sendBuffer.length);
      this.state = 'FIN-WAIT-1';
    }
    if (this.listener) this.io.established(this);
    if (this.events?.onConnect) this.events.onConnect();
  }

  private enterTimeWait(now: number): void {
    this.state = 'TIME-WAIT';
    this.rtxAt = Infinity;
    this.persist = false;
    this.delackAt = Infinity;
    this.keepaliveAt = Infinity;
    this.idleAt = Infinity;
    this.closeAt = now + this.io.config.timeWait;
    this.sendBuffer.release();
    if (this.receiveBuffer.length === 0) this.receiveBuffer.release();
  }

  /**
   * This TIME-WAIT connection as a small record for the layer to keep instead (time-wait.ts), or
   * null when it holds more than the record does (unread data, reassembly or recovery state, a
   * timer besides 2MSL). The record keeps what segments in TIME-WAIT read: the sequence and
   * window variables (acceptability, the RFC 5961 ACK check, the window update, the ACK sent),
   * the receive window's size, timestamps (PAWS, TS.Recent, TSval), SACK and keepalive settings.
   */
  timeWaitRecord(): TimeWaitRecord | null {
    if (this.state !== 'TIME-WAIT' || this.receiveBuffer.length > 0 || this.ooo.length > 0 || this.pendingFinSeq !== NO_SEQ ||
        this.inRecovery || this.rtxAt !== Infinity || this.delackAt !== Infinity || this.keepaliveAt !== Infinity ||
        this.idleAt !== Infinity || this.closeAt === Infinity) return null;
    const r = new TimeWaitRecord(this.localAddress, this.localPort, this.remoteAddress, this.remotePort);
    r.closeAt = this.closeAt;
    r.iss = this.iss;
    r.irs = this.irs;
    r.sndUna = this.sndUna;
    r.sndNxt = this.sndNxt;
    r.sndMax = this.sndMax;
    r.sndWnd = this.sndWnd;
    r.sndWl1 = this.sndWl1;
    r.sndWl2 = this.sndWl2;
    r.maxSndWnd = this.maxSndWnd;
    r.sndWscale = this.sndWscale;
    r.rcvNxt = this.rcvNxt;
    r.rcvAdv = this.rcvAdv;
    r.rcvWscale = this.rcvWscale;
    r.rcvCapacity = this.receiveBuffer.maxCapacity;
    r.advMss = this.advMss;
    r.pathMtu = this.pathMtu;
    r.tsEnabled = this.tsEnabled;
    r.tsRecent = this.tsRecent;
    r.tsOffset = this.tsOffset;
    r.lastAckSent = this.lastAckSent;
    r.sackOk = this.sackOk;
    r.keepAlive = this.keepAlive;
    r.keepAliveIdle = this.keepAliveIdle;
    r.passive = this.passive;
    return r;
  }

  /** Makes this (new, unused) connection the TIME-WAIT connection `r` was made from. */
  restoreTimeWait(r: TimeWaitRecord): void {
    this.state = 'TIME-WAIT';
    this.orphaned = true;
    this.passive = r.passive;
    this.closeAt = r.closeAt;
    this.iss = r.iss;
    this.irs = r.irs;
    this.sndUna = r.sndUna;
    this.sndNxt = r.sndNxt;
    this.sndMax = r.sndMax;
    this.sndWnd = r.sndWnd;
    this.sndWl1 = r.sndWl1;
    this.sndWl2 = r.sndWl2;
    this.maxSndWnd = r.maxSndWnd;
    this.sndWscale = r.sndWscale;
    // Our FIN was sent and acknowledged: it is the last sequence number below SND.MAX.
    this.finQueued = true;
    this.finSeq = seqAdd(this.sndMax, -1);
    this.bufSeq = this.finSeq;
    this.recoverPoint = this.sndUna;
    this.rcvNxt = r.rcvNxt;
    this.rcvAdv = r.rcvAdv;
    this.finReceived = true;
    this.rcvWscale = r.rcvWscale;
    if (r.rcvCapacity > this.receiveBuffer.maxCapacity) this.receiveBuffer.grow(r.rcvCapacity);
    this.advMss = r.advMss;
    this.pathMtu = r.pathMtu;
    this.tsEnabled = r.tsEnabled;
    this.tsRecent = r.tsRecent;
    this.tsOffset = r.tsOffset;
    this.lastAckSent = r.lastAckSent;
    this.sackOk = r.sackOk;
    this.keepAlive = r.keepAlive;
    this.keepAliveIdle = r.keepAliveIdle;
  }

  /** RFC 6191-style reuse: a new SYN may end TIME-WAIT if it is clearly newer. */
  acceptsNewSyn(seg: TcpSegmentView): boolean {
    if (this.state !== 'TIME-WAIT') return false;
    if (this.tsEnabled && seg.hasTimestamp) return ((seg.tsVal - this.tsRecent) | 0) > 0;
    return seqGt(seq(seg.seq), this.rcvNxt);
  }

  /** The connection is gone. */
  finish(error: TcpError | null): void {
    if (this.state === 'CLOSED') return;
    this.state = 'CLOSED';
    this.error = error;
    this.rtxAt = this.delackAt = this.keepaliveAt = this.closeAt = this.idleAt = Infinity;
    this.sendBuffer.release();
    if (error || this.orphaned) this.receiveBuffer.release();
    // Setting an array's length is a runtime call even when it changes nothing: most closes have nothing to clear.
    if (this.ooo.length > 0) this.ooo.length = 0;
    if (this.sacked.length > 0) this.sacked.length = 0;
    this.io.closed(this);
    const ev = this.events;
    if (ev?.onClose) ev.onClose(error);
  }

  // ------------------------------------------------------------------ output

  /** Sends what the windows, Nagle and SWS avoidance allow, and any ACK owed. */
  output(now: number): void {
    let sentAny = false;
    let timerStarted = false;
    const s = this.state;
    const canSend = s === 'ESTABLISHED' || s === 'CLOSE-WAIT' || s === 'FIN-WAIT-1' || s === 'CLOSING' || s === 'LAST-ACK';
    if (canSend) {
      for (;;) {
        const flight = seqDiff(this.sndNxt, this.sndUna);
        const pos = seqDiff(this.sndNxt, this.bufSeq);
        let pending = this.sendBuffer.length - pos;
        if (pending < 0) pending = 0;
        const finToSend = this.finQueued && seqLe(this.sndNxt, this.finSeq);
        if (pending === 0 && !finToSend) break;
        const wndRoom = seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt);
        const cwndRoom = this.cwnd - flight;
        const usable = Math.max(0, Math.min(wndRoom, cwndRoom));
        const isRetransmit = seqLt(this.sndNxt, this.sndMax);
        let len = Math.min(pending, this.maxSegment(), usable);
        if (len > this.effMss) {
          if (this.gso) {
            // A GSO super-segment is exactly the run of full segments this loop would send one by one: a short
            // tail goes alone (Nagle and SWS judge it as before), and so does a retransmission or a segment whose
            // SACK blocks depend on its length.
            if (isRetransmit || (this.sackOk && this.ooo.length > 0)) len = this.effMss;
            else len -= len % this.effMss;
          } else if (len < pending) {
            // A TSO super-segment carries whole MSS; only the last of the data may end in a short one.
            len -= len % this.effMss;
          }
        }
        if (len < pending) {
          // More data waits: send a partial segment only if it is big (SWS avoidance, RFC 9293 3.8.6.2.1).
          if (len < this.effMss && !(this.maxSndWnd > 0 && len >= (this.maxSndWnd >>> 1) && len > 0) &&
              !this.windowEdgeSegmentAllowed(len, wndRoom, cwndRoom)) break;
        } else if (len > 0 && len < this.effMss && !this.noDelay && flight > 0 && !this.finQueued &&
            !this.windowEdgeSegmentAllowed(len, wndRoom, cwndRoom)) {
          break; // Nagle: a small segment waits while data is outstanding
        }
        let fin = finToSend && len === pending;
        if (len === 0 && !fin) break;
        let flags = TCP_ACK;
        if (len > 0 && len === pending) flags |= TCP_PSH;
        if (fin) flags |= TCP_FIN;
        const mss = this.effMss;
        this.emit(flags, this.sndNxt, pos, len, now);
        if (len > mss && this.effMss < mss) {
          // IP refused the super-segment for a path MTU we had not heard of (transmit lowered the MSS). One by one,
          // only its first segment would have been refused (left to the RTO) and the rest sent at the new MSS: so here.
          len = mss;
          fin = false;
        }
        sentAny = true;
        if (isRetransmit) { this.io.counters.retransmits++; this.retransmitCount++; }
        const end = seqAdd(this.sndNxt, len + (fin ? 1 : 0));
        if (!isRetransmit && !this.rttTiming && !this.tsEnabled && len > 0) {
          this.rttTiming = true;
          // Under GSO the first of the segments is timed, as when they went one by one.
          this.rttSeq = this.gso && len > mss ? seqAdd(this.sndNxt, mss) : end;
          this.rttTime = now;
        }
        if (seqGt(end, this.sndMax)) {
          this.bytesSent += seqDiff(end, seqMax(this.sndNxt, this.sndMax)) - (fin ? 1 : 0);
          this.sndMax = end;
        }
        this.sndNxt = end;
        if (this.rtxAt === Infinity || this.persist) {
          this.persist = false;
          this.rtxAt = now + this.rtt.rto;
          timerStarted = true;
        }
        if (fin) break;
      }
      // A flight sent with nothing outstanding (an ACK covered all of the last one, or after idle)
      // gets the tail loss probe too (RFC 8985 7.2: armed after sending new data), not the RTO
      // alone: if the ACKs for it are lost, the probe recovers in 2 SRTT instead of 200 ms or more.
      // Not after a timeout (retries > 0): the backed-off RTO stays in charge until new data is ACKed.
      if (timerStarted && this.retries === 0) this.armProbe(now);
      // Nothing in flight but data waiting: only the persist timer can move things (zero window / SWS).
      const pendingNow = this.sendBuffer.length - seqDiff(this.sndNxt, this.bufSeq);
      if (pendingNow > 0 && this.sndNxt === this.sndUna && this.rtxAt === Infinity) {
        this.persist = true;
        this.rtxAt = now + this.persistTimeout();
      }
    }
    if (!sentAny && this.ackNow && this.isSynchronized()) this.sendAck(now);
  }

  /** Data per segment: one MSS, or with TSO as many MSS as fit in one IPv4 packet (40 bytes of headers, 40 of options). */
  private maxSegment(): number {
    const mss = this.effMss;
    // GSO needs DF: below TCP_MIN_PMTU segments go out one by one, to be fragmented (see dontFragment).
    if (this.gso && this.pathMtu >= TCP_MIN_PMTU) return Math.max(mss, Math.floor((GSO_MAX_BYTES - 80) / mss) * mss);
    if (this.tsoMaxBytes <= 0 || !this.txChecksumOffload) return mss;
    return Math.max(mss, Math.floor((this.tsoMaxBytes - 80) / mss) * mss);
  }

  /**
   * A partial segment that fills the peer's window to its edge, or the rest of a full send buffer
   * (the application cannot top it up), at most one outstanding (Minshall's rule, as Linux's
   * Nagle test). Without it a window or buffer that is not a multiple of the MSS is never filled:
   * 32 KiB carries 22 segments of 1448 bytes (31,856 bytes, 3 % short), 4 KiB two (29 % short).
   */
  private windowEdgeSegmentAllowed(len: number, wndRoom: number, cwndRoom: number): boolean {
    // Not when cwnd is the limit (ACKs will open it), nor for slivers whose headers would weigh more than a quarter.
    if (len < (this.effMss >>> 2) || cwndRoom <= len) return false;
    if (len !== wndRoom && this.sendBuffer.free >= this.effMss) return false;
    if (seqGt(this.smallSegEnd, this.sndUna) && seqLe(this.smallSegEnd, this.sndMax)) return false;
    this.smallSegEnd = seqAdd(this.sndNxt, len);
    return true;
  }

  private persistTimeout(): number {
    const t = this.rtt.rto * Math.pow(2, this.persistBackoff);
    return Math.min(Math.max(t, PERSIST_MIN), PERSIST_MAX);
  }

  /** Retransmits one segment starting at `at` (fast retransmit, partial ACKs). */
  private retransmitAt(at: SeqNum, now: number, maxLen = Infinity): number {
    const pos = seqDiff(at, this.bufSeq);
    const avail = Math.min(this.sendBuffer.length - pos, seqDiff(this.sndMax, at));
    const len = Math.max(0, Math.min(this.effMss, avail, maxLen));
    const fin = this.finQueued && seqGt(this.sndMax, this.finSeq) && seqAdd(at, len) === this.finSeq;
    if (len === 0 && !fin) return 0;
    this.rttTiming = false;
    this.io.counters.retransmits++;
    this.retransmitCount++;
    if (this.inRecovery && this.sackOk && len > 0) this.logRetransmit(at, seqAdd(at, len), now);
    this.emit(TCP_ACK | (fin ? TCP_FIN : 0), at, pos, len, now);
    return len + (fin ? 1 : 0);
  }

  /** Remembers a recovery retransmission; when the ring is full the oldest is forgotten (found by the RTO). */
  private logRetransmit(start: SeqNum, end: SeqNum, now: number): void {
    let log = this.rtxLog;
    if (log === null) log = this.rtxLog = new Array<number>(4 * RTX_LOG_SIZE).fill(0);
    if (this.rtxCount === RTX_LOG_SIZE) { this.rtxHead = (this.rtxHead + 1) % RTX_LOG_SIZE; this.rtxCount--; }
    const k = 4 * ((this.rtxHead + this.rtxCount) % RTX_LOG_SIZE);
    log[k] = start;
    log[k + 1] = end;
    log[k + 2] = this.sndMax;
    log[k + 3] = now;
    this.rtxCount++;
  }

  /**
   * Lost retransmissions (RFC 8985 6.2, in sequence-space form): a retransmission is lost when the
   * peer SACKed data first sent after it (above SND.MAX at its sending) while it is still a hole.
   * Without this only the RTO finds it, and after the RTO the window is one segment. It is sent
   * again at once, within the same recovery (no second window reduction, RFC 6675/8985: one
   * congestion event per recovery); the copy that was lost has left the network, so the pipe is kept.
   */
  private detectLostRetransmits(now: number): void {
    const log = this.rtxLog;
    const r = this.sacked;
    if (log === null || r.length === 0) return;
    const top = r[r.length - 1] as SeqNum;
    for (;;) {
      this.forgetAckedRetransmits(log);
      // Stop at one that nothing sent after it has reached the peer (later ones were sent later still).
      if (this.rtxCount === 0 || !seqGt(top, log[4 * this.rtxHead + 2] as SeqNum)) break;
      if (this.resendLogged(now)) this.lostRetransmits++;
    }
  }

  /** Sends the oldest logged retransmission again (what of it the peer has not SACKed), and forgets it. */
  private resendLogged(now: number): boolean {
    const log = this.rtxLog as number[];
    const r = this.sacked;
    const k = 4 * this.rtxHead;
    const end = log[k + 1] as SeqNum;
    const start = seqMax(log[k] as SeqNum, this.sndUna);
    this.popRetransmit();
    if (!seqLt(start, end)) return false;
    // Its first byte the peer has not SACKed, and the extent of that gap within it.
    let at = start;
    let gapEnd = end;
    for (let i = 0; i < r.length; i += 2) {
      if (seqLe(r[i + 1] as SeqNum, at)) continue;
      if (seqLe(r[i] as SeqNum, at)) { at = r[i + 1] as SeqNum; continue; }
      if (seqLt(r[i] as SeqNum, gapEnd)) gapEnd = r[i] as SeqNum;
      break;
    }
    if (!seqLt(at, gapEnd)) return false; // SACKed after all
    return this.retransmitAt(at, now, seqDiff(gapEnd, at)) > 0;
  }

  /**
   * With nothing sent after a recovery retransmission (the send buffer or the pipe is full), no
   * SACK can show it lost, and only the RTO (then a window of one segment) would: if it is still
   * unacknowledged SRTT + SRTT/4 after it was sent (RACK's RTT plus reordering window), send it
   * again then. The RTO deadline is kept behind the probe.
   */
  private armRecoveryProbe(now: number): void {
    const log = this.rtxLog;
    if (log === null || this.rtt.samples === 0) return;
    this.forgetAckedRetransmits(log);
    if (this.rtxCount === 0) return;
    const due = Math.max(now, log[4 * this.rtxHead + 3] + Math.max(this.rtt.srtt * 1.25, TLP_MIN_PTO));
    const rto = this.rtxAt === this.tlpAt ? this.probeRtoAt : this.rtxAt;
    if (due < rto) {
      this.probeRtoAt = rto;
      this.rtxAt = this.tlpAt = due;
    }
  }

  private popRetransmit(): void {
    this.rtxHead = (this.rtxHead + 1) % RTX_LOG_SIZE;
    this.rtxCount--;
  }

  /** Drops the logged retransmissions, oldest first, that SND.UNA has passed. */
  private forgetAckedRetransmits(log: number[]): void {
    while (this.rtxCount > 0 && seqLe(log[4 * this.rtxHead + 1] as SeqNum, this.sndUna)) this.popRetransmit();
  }

  // ------------------------------------------------------------------ SACK (RFC 2018, 2883, 6675)

  /** Records the peer's SACK blocks in the scoreboard; a D-SACK (RFC 2883) first block is counted. */
  private takeSack(seg: TcpSegmentView, ack: SeqNum): void {
    const b = seg.sackBlocks;
    for (let k = 0; k < seg.sackCount; k++) {
      let start = seq(b[2 * k]);
      const end = seq(b[2 * k + 1]);
      if (!seqLt(start, end)) continue;
      if (k === 0 && (seqLe(end, ack) ||
          (seg.sackCount > 1 && seqLe(seq(b[2]), start) && seqLe(end, seq(b[3]))))) {
        // D-SACK: below the cumulative ACK or inside the second block.
        this.io.counters.dsacks++;
        this.dsackCount++;
        continue;
      }
      if (seqLe(end, ack) || seqGt(end, this.sndMax)) continue; // stale or bogus
      if (seqLt(start, ack)) start = ack;
      this.insertSacked(start, end);
    }
  }

  private insertSacked(start: SeqNum, end: SeqNum): void {
    insertSeqRange(this.sacked, start, end);
  }

  /** Drops what the cumulative ACK now covers. */
  private trimSacked(ack: SeqNum): void {
    const r = this.sacked;
    let i = 0;
    while (i < r.length && seqLe(r[i + 1] as SeqNum, ack)) i += 2;
    if (i > 0) r.splice(0, i);
    if (r.length > 0 && seqLt(r[0] as SeqNum, ack)) r[0] = ack;
  }

  /** SACKed bytes at or above `at`. */
  private sackedAbove(at: SeqNum): number {
    const r = this.sacked;
    let n = 0;
    for (let i = r.length - 2; i >= 0; i -= 2) {
      if (seqLe(r[i + 1] as SeqNum, at)) break;
      n += seqDiff(r[i + 1] as SeqNum, seqMax(r[i] as SeqNum, at));
    }
    return n;
  }

  /**
   * RFC 6675 IsLost for the hole starting at `at` (holes are judged whole): DupThresh segments'
   * worth of SACKed data above it; the first hole (at SND.UNA) once anything above it is SACKed.
   */
  private holeLost(at: SeqNum): boolean {
    if (this.sacked.length === 0) return this.rtoRecovery;
    return this.rtoRecovery || at === this.sndUna || this.sackedAbove(at) >= 3 * this.effMss;
  }

  /** RFC 6675 SetPipe: outstanding bytes not SACKed and not lost, plus those retransmitted. */
  private pipe(): number {
    const r = this.sacked;
    let pipe = 0;
    let holeStart = this.sndUna;
    for (let i = 0; i <= r.length; i += 2) {
      const holeEnd = i < r.length ? r[i] as SeqNum : this.sndMax;
      if (seqLt(holeStart, holeEnd)) {
        const len = seqDiff(holeEnd, holeStart);
        const lost = (i < r.length || this.rtoRecovery) && this.holeLost(holeStart);
        if (!lost) pipe += len;
        if (seqGt(this.highRxt, holeStart)) pipe += Math.min(len, seqDiff(this.highRxt, holeStart));
      }
      if (i < r.length) holeStart = r[i + 1] as SeqNum;
    }
    return pipe;
  }

  /**
   * SACK-based loss recovery (RFC 6675 5, NextSeg rule 1): while the pipe leaves a segment of
   * room in cwnd, retransmit the next lost hole above HighRxt; new data follows through output(),
   * whose room (cwnd + inflation - flight) is made equal to cwnd - pipe.
   */
  private sackRecovery(now: number): void {
    if (seqLt(this.highRxt, this.sndUna)) this.highRxt = this.sndUna;
    let pipe = this.pipe();
    const r = this.sacked;
    while (this.cc.cwnd - pipe >= this.effMss) {
      // NextSeg: the first hole byte >= HighRxt below the highest SACKed byte that is lost.
      let at: SeqNum | null = null;
      let holeEnd = this.sndUna;
      let holeStart = this.sndUna;
      for (let i = 0; i < r.length; i += 2) {
        holeEnd = r[i] as SeqNum;
        const from = seqMax(holeStart, this.highRxt);
        if (seqLt(from, holeEnd) && this.holeLost(holeStart)) { at = from; break; }
        holeStart = r[i + 1] as SeqNum;
      }
      if (at === null && this.rtoRecovery) {
        // After a timeout everything not SACKed is lost, above the highest SACKed byte too.
        const from = seqMax(holeStart, this.highRxt);
        if (seqLt(from, this.sndMax)) { at = from; holeEnd = this.sndMax; }
      }
      if (at === null) break;
      const n = this.retransmitAt(at, now, seqDiff(holeEnd, at));
      if (n === 0) break;
      this.io.counters.sackRetransmits++;
      this.highRxt = seqAdd(at, n);
      pipe += n;
    }
    this.inflation = Math.max(0, seqDiff(this.sndNxt, this.sndUna) - pipe);
  }

  private sendSyn(now: number): void {
    const o = this.opts.clear();
    o.mss = this.advMss;
    if (this.state === 'SYN-SENT' || this.state === 'SYN-RECEIVED') {
      const synAck = this.state === 'SYN-RECEIVED';
      if (synAck ? this.peerWscale : this.wantWscale) o.wscale = this.rcvWscale;
      if (synAck ? this.sackOk : this.wantSack) o.sackPermitted = true;
      if (synAck ? this.tsEnabled : this.wantTs) {
        o.hasTimestamp = true;
        o.tsVal = this.tsNow(now);
        o.tsEcr = synAck ? this.tsRecent : 0;
      }
    }
    const flags = this.state === 'SYN-RECEIVED' ? TCP_SYN | TCP_ACK : TCP_SYN;
    const win = Math.min(this.receiveBuffer.free, 65535);
    this.rcvAdv = seqAdd(this.rcvNxt, win);
    this.synWindowEdge = true;
    this.ackNow = false;
    this.delackAt = Infinity;
    this.lastAckSent = this.rcvNxt;
    this.io.counters.segmentsOut++;
    this.io.transmit(this, flags, this.iss, flags & TCP_ACK ? this.rcvNxt : seq(0), win, o, 0, 0);
  }

  /** Builds and sends one segment carrying ACK (+ timestamps). */
  private emit(flags: number, seqNo: SeqNum, dataPos: number, dataLen: number, now: number): void {
    let o: TcpOptionSet | null = null;
    if (this.tsEnabled) {
      o = this.opts.clear();
      o.hasTimestamp = true;
      o.tsVal = this.tsNow(now);
      o.tsEcr = this.tsRecent;
    }
    if (this.sackOk && this.ooo.length > 0 && !(flags & TCP_RST)) {
      if (!o) o = this.opts.clear();
      this.addSackBlocks(o, dataLen);
    }
    const win = this.windowField();
    this.synWindowEdge = false;
    this.ackNow = false;
    this.delackAt = Infinity;
    this.unackedBytes = 0;
    this.lastAckSent = this.rcvNxt;
    // A GSO super-segment counts as the segments it is cut into.
    this.io.counters.segmentsOut += this.gso && dataLen > this.effMss ? Math.ceil(dataLen / this.effMss) : 1;
    if (dataLen > 0) this.lastSendAt = now;
    this.io.transmit(this, flags, seqNo, this.rcvNxt, win, o, dataPos, dataLen);
  }

  /**
   * SACK blocks for our out-of-order queue: the range with the latest arrival first, then the
   * others in order, as many as fit in the option space and the MTU (a full data segment has room
   * only for what effMss left).
   */
  private addSackBlocks(o: TcpOptionSet, dataLen: number): void {
    const r = this.ooo;
    // Data + options must fit in the MSS (RFC 6691), options in 40 bytes.
    const room = Math.min(40, Math.min(this.peerMss, this.pathMtu - 40) - dataLen) - (o.hasTimestamp ? 12 : 0);
    const max = Math.min(4, Math.floor((room - 4) / 8));
    if (max <= 0) return;
    let n = 0;
    let first = -1;
    for (let i = 0; i < r.length; i += 2) {
      if (this.lastOooStart !== NO_SEQ && seqLe(r[i] as SeqNum, this.lastOooStart as SeqNum) &&
          seqLt(this.lastOooStart as SeqNum, r[i + 1] as SeqNum)) { first = i; break; }
    }
    if (first >= 0) { o.sackBlocks[0] = r[first]; o.sackBlocks[1] = r[first + 1]; n = 1; }
    for (let i = 0; i < r.length && n < max; i += 2) {
      if (i === first) continue;
      o.sackBlocks[2 * n] = r[i];
      o.sackBlocks[2 * n + 1] = r[i + 1];
      n++;
    }
    o.sackCount = n;
  }

  /** The window field to send: receiver SWS avoidance, never shrinking, scaled. */
  private windowField(): number {
    const rb = this.receiveBuffer;
    const free = rb.free;
    const cur = Math.max(0, seqDiff(this.rcvAdv, this.rcvNxt));
    let wnd = cur;
    if (free - cur >= Math.min(rb.maxCapacity >>> 1, this.advMss) || free === rb.maxCapacity) wnd = free;
    const ws = this.rcvWscale;
    let field = Math.min(Math.min(wnd, free) >>> ws, 65535);
    if (seqLt(seqAdd(this.rcvNxt, field << ws), this.rcvAdv)) {
      // Keep the edge by rounding up, unless that unit does not fit in the buffer: then the edge
      // retracts by less than a unit, as RFC 7323 2.4 allows (rcvAdv, the furthest edge, still
      // decides acceptability). Promising it instead crept the edge a unit per ACK past the
      // buffer, so a full buffer never showed a zero window and the peer timed out.
      const up = Math.ceil(cur / (1 << ws));
      if (up << ws <= free) field = Math.min(up, 65535);
    }
    const edge = seqAdd(this.rcvNxt, field << ws);
    if (seqGt(edge, this.rcvAdv)) this.rcvAdv = edge;
    return field;
  }

  sendAck(now: number): void {
    // SND.MAX, not SND.NXT: after a timeout SND.NXT is rewound, and an ACK carrying an old
    // sequence number would be unacceptable to the peer (as in BSD's tcp_output).
    this.emit(TCP_ACK, this.sndMax, 0, 0, now);
  }

  private challengeAck(now: number): void {
    if (!this.io.challengeAckAllowed(now)) return;
    this.io.counters.challengeAcks++;
    this.sendAck(now);
  }

  private sendRst(seqNo: SeqNum, withAck: boolean): void {
    this.io.counters.rstOut++;
    this.io.counters.segmentsOut++;
    this.io.transmit(this, TCP_RST | (withAck ? TCP_ACK : 0), seqNo, withAck ? this.rcvNxt : seq(0), 0, null, 0, 0);
  }

  private sendRstTo(seqNo: SeqNum, ackNo: number, withAck: boolean): void {
    this.io.counters.rstOut++;
    this.io.counters.segmentsOut++;
    this.io.transmit(this, TCP_RST | (withAck ? TCP_ACK : 0), seqNo, seq(ackNo), 0, null, 0, 0);
  }

  private tsNow(now: number): number {
    // int32 (the wire's bits): a value above 2^31 would be boxed in each field and call it passes through.
    return (Math.floor(now) + this.tsOffset) | 0;
  }

  /** Milliseconds since our timestamp `tsEcr` was sent. */
  private tsDiff(tsEcr: number): number {
    const d = (this.tsNow(this.nowFn()) - tsEcr) | 0;
    return d >= 0 ? d : -1;
  }

  // ------------------------------------------------------------------ timers

  /** The earliest time this connection needs `onTimer`. */
  nextDeadline(): number {
    let t = this.rtxAt;
    const ut = this.io.config.userTimeout;
    if (ut > 0 && t !== Infinity && !this.persist && t > this.progressAt + ut) t = this.rtxAt = this.progressAt + ut;
    if (this.delackAt < t) t = this.delackAt;
    if (this.keepaliveAt < t) t = this.keepaliveAt;
    if (this.closeAt < t) t = this.closeAt;
    if (this.idleAt < t) t = this.idleAt;
    return t;
  }

  onTimer(now: number): void {
    if (this.state === 'CLOSED') return;
    if (this.closeAt <= now) {
      this.closeAt = Infinity;
      if (this.state === 'TIME-WAIT' || this.state === 'FIN-WAIT-2') {
        this.finish(null);
        return;
      }
    }
    if (this.rtxAt <= now) {
      const probe = this.rtxAt === this.tlpAt;
      this.rtxAt = Infinity;
      this.tlpAt = Infinity;
      if (this.persist) this.onPersist(now);
      else if (probe) this.onProbeTimeout(now);
      else this.onRetransmitTimeout(now);
      if (this.isClosed()) return;
    }
    if (this.delackAt <= now) {
      this.delackAt = Infinity;
      if (this.isSynchronized()) this.sendAck(now);
    }
    if (this.keepaliveAt <= now) {
      this.keepaliveAt = Infinity;
      this.onKeepAlive(now);
      if (this.isClosed()) return;
    }
    if (this.idleAt <= now) {
      this.idleAt = Infinity;
      if (this.events?.onTimeout) this.events.onTimeout();
    }
  }

  private onRetransmitTimeout(now: number): void {
    const c = this.io.config;
    if (this.sndUna === this.sndMax && this.state !== 'SYN-SENT' && this.state !== 'SYN-RECEIVED') return;
    this.io.counters.timeouts++;
    this.retries++;
    const synState = this.state === 'SYN-SENT' || this.state === 'SYN-RECEIVED';
    const limit = synState ? c.synRetries : c.maxRetries;
    if (this.retries > limit || (c.userTimeout > 0 && now - this.progressAt >= c.userTimeout)) {
      const code: TcpErrorCode = this.softError ?? 'ETIMEDOUT';
      this.finish(this.passive && synState ? null : new TcpError(code));
      return;
    }
    this.rtt.backoff();
    this.rttTiming = false;
    if (synState) {
      this.sendSyn(now);
      this.io.counters.retransmits++;
      this.rtxAt = now + this.rtt.rto;
      return;
    }
    this.rtoTsVal = this.tsNow(now) >>> 0; // >= 0: -1 is "none"
    // RFC 5681 (3.1, eq. 4) and RFC 6582 4.1: collapse the window, forget recovery, go back to SND.UNA.
    this.cc.onRetransmitTimeout(seqDiff(this.sndMax, this.sndUna), now);
    this.inflation = 0;
    this.dupAcks = 0;
    this.recoverPoint = this.sndMax;
    this.rtxCount = 0;
    if (this.sackOk && this.sacked.length > 0 && this.retries === 1 && this.cc.cwnd >= seqDiff(this.sndMax, this.sndUna)) {
      // RFC 6675 5.1: keep using the scoreboard, so what the peer holds is not sent again, when
      // cwnd still covers the flight (only without congestion control: measured, pacing the holes
      // through slow start took more timeouts with NewReno and CUBIC than going back to SND.UNA).
      // A second timeout drops the scoreboard (the peer may have reneged).
      this.inRecovery = true;
      this.rtoRecovery = true;
      this.highRxt = this.sndUna;
      this.sackRecovery(now);
    } else {
      this.inRecovery = false;
      this.rtoRecovery = false;
      this.sacked.length = 0;
      this.sndNxt = this.sndUna;
      this.output(now);
    }
    if (this.rtxAt === Infinity) this.rtxAt = now + this.rtt.rto;
  }

  /**
   * Tail loss probe (RFC 8985 7.2): with SACK, outside recovery, fire after PTO = 2 SRTT (plus a
   * delayed-ACK allowance for a lone segment) instead of the RTO, if sooner. With SACKed data
   * already above SND.UNA (too few duplicate ACKs came: ACKs lost, or a short flight), fire after
   * SRTT + SRTT/4 instead (RACK's reordering window, RFC 8985 6.2) and start recovery then.
   * Armed on ACKs of new data only, so one probe per tail.
   */
  private armProbe(now: number): void {
    if (!this.sackOk || this.inRecovery || this.rtt.samples === 0 || this.persist) return;
    const flight = seqDiff(this.sndMax, this.sndUna);
    let pto = 2 * this.rtt.srtt;
    if (this.sacked.length > 0) pto = this.rtt.srtt * 1.25;
    else if (flight <= this.effMss) pto += TLP_DELACK_ALLOWANCE;
    pto = Math.max(pto, TLP_MIN_PTO);
    if (now + pto < this.rtxAt) this.rtxAt = this.tlpAt = now + pto;
  }

  /**
   * The probe (RFC 8985 7.3): one new segment if the peer's window takes it, else the last segment
   * again, so that its ACK (with SACK blocks) starts fast recovery instead of waiting for the RTO.
   * No backoff, no window reduction here; the RTO is armed behind it.
   */
  private onProbeTimeout(now: number): void {
    if (this.sndUna === this.sndMax || !this.isSynchronized()) return;
    if (this.inRecovery) {
      this.forgetAckedRetransmits(this.rtxLog as number[]);
      if (this.rtxCount > 0 && this.resendLogged(now)) this.recoveryProbes++;
      this.rtxAt = this.probeRtoAt > now ? this.probeRtoAt : now + this.rtt.rto;
      this.armRecoveryProbe(now);
      return;
    }
    if (this.sacked.length > 0 && seqGe(this.sndUna, this.recoverPoint)) {
      // A hole below SACKed data an RTT after its ACK was due: lost (RACK-style), recover now.
      this.rackRecoveries++;
      this.enterRecovery(now);
      return;
    }
    this.tlpCount++;
    const maxBefore = this.sndMax;
    const inflation = this.inflation;
    this.inflation += this.effMss; // cwnd may be full: the probe goes out regardless
    this.output(now);
    this.inflation = inflation;
    if (this.sndMax === maxBefore) {
      const end = this.finQueued && seqGt(this.sndMax, this.finSeq) ? this.finSeq : this.sndMax;
      const at = seqMax(this.sndUna, seqAdd(end, -this.effMss));
      if (this.retransmitAt(at, now) > 0) {
        this.tlpRtxEnd = seqAdd(at, 1);
        this.tlpDsacks = this.dsackCount;
      }
    }
    this.rtxAt = now + this.rtt.rto;
  }

  /** Zero-window probe / SWS override (RFC 9293 3.8.6.1): one byte (or what fits) beyond the window. */
  private onPersist(now: number): void {
    this.persist = false;
    const pos = seqDiff(this.sndUna, this.bufSeq);
    const pending = this.sendBuffer.length - pos;
    if (pending <= 0 || !this.isSynchronized()) return;
    const wndRoom = Math.max(0, seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndUna));
    const len = Math.max(1, Math.min(pending, this.effMss, wndRoom));
    this.io.counters.zeroWindowProbes++;
    this.emit(TCP_ACK | (len === pending ? TCP_PSH : 0), this.sndUna, pos, len, now);
    const end = seqAdd(this.sndUna, len);
    if (seqGt(end, this.sndMax)) { this.bytesSent += seqDiff(end, this.sndMax); this.sndMax = end; }
    if (seqGt(end, this.sndNxt)) this.sndNxt = end;
    if (wndRoom === 0) {
      // A true zero-window probe: keep probing with backoff; never give up while the peer answers.
      this.persistBackoff++;
      this.persist = true;
      this.rtxAt = now + this.persistTimeout();
    } else {
      this.rtxAt = now + this.rtt.rto;
    }
  }

  private onKeepAlive(now: number): void {
    if (!this.keepAlive || !this.isSynchronized() || this.state === 'TIME-WAIT') return;
    if (seqGt(this.sndMax, this.sndUna)) {
      // Data outstanding: retransmission covers liveness.
      this.keepaliveAt = now + this.keepAliveIdle;
      return;
    }
    if (this.keepProbes >= this.io.config.keepAliveProbes) {
      this.finish(new TcpError('ETIMEDOUT', 'keepalive'));
      return;
    }
    this.keepProbes++;
    this.io.counters.keepAliveProbes++;
    // SEG.SEQ = SND.NXT - 1 with no data: the peer must answer with an ACK.
    this.emit(TCP_ACK, seqAdd(this.sndUna, -1), 0, 0, now);
    this.keepaliveAt = now + this.io.config.keepAliveInterval;
  }

  /** An ICMP error for this connection (RFC 1122 4.2.3.9, RFC 5927: hard errors only matter in SYN-SENT). */
  icmpError(code: TcpErrorCode, hard: boolean): void {
    if (this.state === 'SYN-SENT' && hard) {
      this.finish(new TcpError(code));
      return;
    }
    this.softError = code;
  }
}

function inWindow(x: SeqNum, lo: SeqNum, size: number): boolean {
  return ((x - lo) >>> 0) < size;
}

/** The smallest shift that lets a 16-bit window field cover `bufferSize`. */
export function wscaleFor(bufferSize: number): number {
  let s = 0;
  while (s < TCP_MAX_WSCALE && (65535 << s) < bufferSize) s++;
  return s;
}

/**
 * Adds [start, end) to a sorted list of disjoint sequence ranges stored flat ([s0, e0, s1, e1, ...]),
 * merging what overlaps or touches. False (nothing added) when the list already holds MAX_OOO_RANGES.
 */
function insertSeqRange(r: number[], start: SeqNum, end: SeqNum): boolean {
  let i = 0;
  while (i < r.length && seqLt(r[i + 1] as SeqNum, start)) i += 2;
  // r[i..] ends at or after start.
  if (i < r.length && seqLe(r[i] as SeqNum, end)) {
    const s = seqMin(r[i] as SeqNum, start);
    let e = seqMax(r[i + 1] as SeqNum, end);
    let j = i + 2;
    while (j < r.length && seqLe(r[j] as SeqNum, e)) { e = seqMax(e, r[j + 1] as SeqNum); j += 2; }
    r.splice(i, j - i, s, e);
    return true;
  }
  if (r.length >= MAX_OOO_RANGES * 2) return false;
  r.splice(i, 0, start, end);
  return true;
}
