import { CongestionControlFactory, CongestionControlName, NewReno, congestionControlFactory } from './congestion';

/** Tunables of a TcpLayer (defaults in `DEFAULT_TCP_CONFIG`). Times in milliseconds, sizes in bytes. */
export interface TcpConfig {
  /** Per-connection send buffer limit (allocated lazily). */
  sendBufferSize: number;
  /**
   * Per-connection receive buffer limit = the largest window we offer (allocated lazily). With
   * `receiveAutoTune` it is the starting size, grown up to `receiveBufferMax` as the application
   * shows it reads faster.
   */
  receiveBufferSize: number;
  /**
   * Ceiling of receive auto-tuning (Linux tcp_rmem[2]); the window scale in our SYN is chosen to
   * reach it. Ignored without `receiveAutoTune`. Raised to `receiveBufferSize` when that is larger
   * and this was not given.
   */
  receiveBufferMax: number;
  /**
   * Dynamic right-sizing of the receive buffer (Linux tcp_moderate_rcvbuf): once per round trip,
   * grow it to about twice what the application read in that round trip. Off: the buffer stays
   * at `receiveBufferSize`.
   */
  receiveAutoTune: boolean;
  /** Offer window scaling (RFC 7323) in SYNs. */
  windowScaling: boolean;
  /** Offer timestamps (RFC 7323) in SYNs. */
  timestamps: boolean;
  /** Offer SACK-permitted (RFC 2018): our ACKs carry SACK blocks, and the peer's drive RFC 6675 loss recovery. */
  sack: boolean;
  /** RFC 6298 initial RTO. */
  initialRto: number;
  minRto: number;
  maxRto: number;
  /** SYN / SYN-ACK retransmissions before giving up (ETIMEDOUT). */
  synRetries: number;
  /** Data retransmissions before giving up (ETIMEDOUT), like Linux tcp_retries2. */
  maxRetries: number;
  /** Abort when sent data stays unacknowledged this long (0: off; RFC 5482 / TCP_USER_TIMEOUT). */
  userTimeout: number;
  /** TIME-WAIT duration (2*MSL). */
  timeWait: number;
  /** How long an orphaned connection may sit in FIN-WAIT-2. */
  finWait2Timeout: number;
  /** Longest delay of an ACK (0 disables delayed ACKs). */
  delayedAck: number;
  /**
   * ACK coalescing (as Linux's GRO): in-order data of one connection that arrives in one receive
   * batch (a poll of an interface) is acknowledged once, at the end of the batch, instead of every
   * second segment. Out-of-order data, hole fills, FIN, duplicates and window changes are still
   * acknowledged at once. Only with a host that reports batches (a Stack).
   */
  coalesceAcks: boolean;
  /**
   * Software segmentation offload (as Linux's GSO): on a NIC without TSO, one output burst of
   * several MSS goes to IP as one super-segment, which IP cuts into MSS-sized frames in one loop
   * (the per-segment work above it runs once). The frames are the ones sent segment by segment.
   * Only with a host whose IP does it (a Stack).
   */
  gso: boolean;
  /**
   * Receive offload in software (as Linux's GRO), with `coalesceAcks`: in one receive batch, a
   * frame whose headers equal those of the previous in-order data segment of a connection (but for
   * the sequence number, which must follow on, and lengths, IP identification and checksums) goes
   * straight to that connection once its checksums check out, without being parsed and
   * demultiplexed again. Same outcome as without; only with a host that polls NICs (a Stack).
   */
  gro: boolean;
  keepAliveIdle: number;
  keepAliveInterval: number;
  keepAliveProbes: number;
  /** Disable Nagle by default (per socket: setNoDelay). */
  noDelay: boolean;
  /** Half-open connections per listener. */
  synQueueLength: number;
  /** Default accept queue length (listen backlog). */
  backlog: number;
  /** RFC 5961 challenge ACKs per second, for the whole layer. */
  challengeAckLimit: number;
  /** Ephemeral port range (inclusive). */
  ephemeralPortMin: number;
  ephemeralPortMax: number;
  /** Initial congestion window in segments (RFC 6928). */
  initialWindow: number;
  /**
   * 'newreno' (RFC 5681/6582, the default), 'cubic' (RFC 9438), 'none' (no congestion window: for
   * experiments only, never on shared networks), or a factory; resolved to a factory.
   */
  congestionControl: CongestionControlName | CongestionControlFactory;
  /** MSS assumed when the peer sends no MSS option (RFC 9293: 536). */
  defaultMss: number;
  /** Verify TCP checksums here (IP already does per DESIGN.md; for hosts that do not). */
  verifyChecksums: boolean;
  /** TTL of our segments (undefined: the IP layer's default). */
  ttl?: number;
}

export const DEFAULT_TCP_CONFIG: Readonly<TcpConfig> = Object.freeze({
  sendBufferSize: 256 * 1024,
  receiveBufferSize: 256 * 1024,
  // Our ring holds payload only (no per-segment overhead as in Linux's 6 MiB tcp_rmem[2]): 4 MiB of window.
  receiveBufferMax: 4 * 1024 * 1024,
  receiveAutoTune: true,
  windowScaling: true,
  timestamps: true,
  sack: true,
  initialRto: 1000,
  minRto: 200,
  maxRto: 120_000,
  synRetries: 6,
  maxRetries: 15,
  userTimeout: 0,
  timeWait: 60_000,
  finWait2Timeout: 60_000,
  delayedAck: 40,
  coalesceAcks: true,
  gso: true,
  gro: true,
  keepAliveIdle: 7_200_000,
  keepAliveInterval: 75_000,
  keepAliveProbes: 9,
  noDelay: false,
  synQueueLength: 128,
  backlog: 511,
  challengeAckLimit: 1000,
  ephemeralPortMin: 49152,
  ephemeralPortMax: 65535,
  initialWindow: 10,
  congestionControl: () => new NewReno(10),
  defaultMss: 536,
  verifyChecksums: false,
});

export function resolveTcpConfig(partial: Partial<TcpConfig> = {}): TcpConfig {
  const c: TcpConfig = { ...DEFAULT_TCP_CONFIG, ...partial };
  if (partial.initialWindow !== undefined && partial.congestionControl === undefined) {
    const iw = partial.initialWindow;
    c.congestionControl = () => new NewReno(iw);
  } else {
    c.congestionControl = congestionControlFactory(c.congestionControl, c.initialWindow);
  }
  for (const k of ['sendBufferSize', 'receiveBufferSize', 'receiveBufferMax'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1 || c[k] > 0x3fffffff) throw new RangeError(`TcpConfig.${k} must be an integer in 1..2^30, got ${c[k]}`);
  }
  if (typeof c.gro !== 'boolean') throw new TypeError(`TcpConfig.gro must be a boolean, got ${String(c.gro)}`);
  if (typeof c.coalesceAcks !== 'boolean') throw new TypeError(`TcpConfig.coalesceAcks must be a boolean, got ${String(c.coalesceAcks)}`);
  if (typeof c.gso !== 'boolean') throw new TypeError(`TcpConfig.gso must be a boolean, got ${String(c.gso)}`);
  if (typeof c.receiveAutoTune !== 'boolean') throw new TypeError(`TcpConfig.receiveAutoTune must be a boolean, got ${String(c.receiveAutoTune)}`);
  if (c.receiveBufferMax < c.receiveBufferSize) {
    if (partial.receiveBufferMax !== undefined && c.receiveAutoTune) {
      throw new RangeError(`TcpConfig.receiveBufferMax (${c.receiveBufferMax}) must not be below receiveBufferSize (${c.receiveBufferSize})`);
    }
    // Only the default was below: an explicit larger size is simply not grown further.
    c.receiveBufferMax = c.receiveBufferSize;
  }
  for (const k of ['initialRto', 'minRto', 'maxRto', 'timeWait', 'finWait2Timeout', 'delayedAck', 'userTimeout',
    'keepAliveIdle', 'keepAliveInterval'] as const) {
    if (!(c[k] >= 0) || !Number.isFinite(c[k])) throw new RangeError(`TcpConfig.${k} must be a finite number >= 0, got ${c[k]}`);
  }
  if (c.minRto > c.maxRto) throw new RangeError('TcpConfig.minRto must not exceed maxRto');
  if (c.delayedAck > 500) throw new RangeError('TcpConfig.delayedAck must not exceed 500 ms (RFC 9293 3.8.6.3)');
  if (!(c.ephemeralPortMin >= 1 && c.ephemeralPortMin <= c.ephemeralPortMax && c.ephemeralPortMax <= 65535)) {
    throw new RangeError('TcpConfig: bad ephemeral port range');
  }
  return c;
}
