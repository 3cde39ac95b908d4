/**
 * Congestion control, separated from loss detection and recovery. The connection detects
 * losses (duplicate ACKs, timeouts) and runs recovery (NewReno today, RFC 6675 SACK recovery
 * later); the algorithm decides only `cwnd` and `ssthresh`. NewReno (RFC 5681) is the default;
 * CUBIC (RFC 9438) implements the same interface.
 */
export interface CongestionControl {
  readonly name: string;
  /** Congestion window in bytes (recovery may add an inflation on top). */
  readonly cwnd: number;
  readonly ssthresh: number;
  /** Called once the MSS is known (at establishment) and when it changes. */
  init(mss: number, now: number): void;
  setMss(mss: number): void;
  /** New data acknowledged outside loss recovery. `rtt` is a fresh sample in ms or -1. */
  onAck(ackedBytes: number, flightBefore: number, now: number, rtt: number): void;
  /** Loss detected by duplicate ACKs: entering fast recovery. */
  onCongestionEvent(flight: number, now: number): void;
  /** Fast recovery is over (every byte outstanding at its start is acknowledged). */
  onRecoveryExit(flight: number, now: number): void;
  /** Retransmission timeout. */
  onRetransmitTimeout(flight: number, now: number): void;
  /** After an idle period longer than the RTO (RFC 5681 4.1 restart window). */
  onIdleRestart?(now: number): void;
}

export type CongestionControlFactory = () => CongestionControl;

/**
 * Slow start's growth for one ACK (appropriate byte counting, RFC 3465): every byte it
 * acknowledged, as Linux's tcp_slow_start since its stretch-ACK fixes, so an ACK for many
 * segments (the peer coalesces ACKs per receive batch, as GRO does; or ACKs were lost) grows the
 * window as much as an ACK for every second segment would have. Past ssthresh by at most L = 2
 * MSS, as before (the overshoot of the last slow-start ACK; capping at ssthresh exactly measured
 * worse at 10 % loss, where ssthresh is a few segments). L = 1 MSS in the slow start after a
 * timeout (RFC 3465 2.3): ACKs for retransmitted data can cover much that arrived earlier, and
 * would send line-rate bursts.
 */
function slowStartIncrease(ackedBytes: number, cwnd: number, ssthresh: number, mss: number, afterTimeout: boolean): number {
  if (afterTimeout) return Math.min(ackedBytes, mss);
  if (cwnd + ackedBytes <= ssthresh) return ackedBytes;
  return Math.max(ssthresh - cwnd, Math.min(ackedBytes, 2 * mss));
}

/** RFC 5681 slow start and congestion avoidance with byte counting (RFC 3465: every acknowledged byte below ssthresh; L = 1 MSS after a timeout). */
export class NewReno implements CongestionControl {
  readonly name = 'newreno';
  cwnd = 0;
  ssthresh = 0x7fffffff;
  private mss = 536;
  private bytesAcked = 0;
  /** In the slow start that follows a retransmission timeout. */
  private afterTimeout = false;

  constructor(private readonly initialWindowSegments = 10) {}

  init(mss: number, _now: number): void {
    this.mss = mss;
    // RFC 6928 initial window (min(10*MSS, max(2*MSS, 14600)) for 10 segments).
    const iw = this.initialWindowSegments;
    this.cwnd = iw >= 10 ? Math.min(iw * mss, Math.max(2 * mss, 14600)) : iw * mss;
    this.bytesAcked = 0;
  }

  setMss(mss: number): void {
    this.mss = mss;
  }

  onAck(ackedBytes: number, _flightBefore: number, _now: number, _rtt: number): void {
    if (this.cwnd < this.ssthresh) {
      this.cwnd += slowStartIncrease(ackedBytes, this.cwnd, this.ssthresh, this.mss, this.afterTimeout);
    } else {
      this.afterTimeout = false;
      this.bytesAcked += ackedBytes;
      if (this.bytesAcked >= this.cwnd) {
        this.bytesAcked -= this.cwnd;
        this.cwnd += this.mss;
      }
    }
  }

  onCongestionEvent(flight: number, _now: number): void {
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.mss);
    this.cwnd = this.ssthresh;
    this.bytesAcked = 0;
    this.afterTimeout = false;
  }

  onRecoveryExit(flight: number, _now: number): void {
    // RFC 6582 step 3 full-ACK option 1: deflate to min(ssthresh, FlightSize + SMSS).
    this.cwnd = Math.min(this.ssthresh, Math.max(flight, 0) + this.mss);
  }

  onRetransmitTimeout(flight: number, _now: number): void {
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.mss);
    this.cwnd = this.mss;
    this.bytesAcked = 0;
    this.afterTimeout = true;
  }

  onIdleRestart(_now: number): void {
    const rw = Math.min(this.cwnd, Math.min(10 * this.mss, Math.max(2 * this.mss, 14600)));
    this.cwnd = Math.min(this.cwnd, rw);
  }
}

/** RFC 6928 initial window in bytes. */
function initialWindowBytes(segments: number, mss: number): number {
  return segments >= 10 ? Math.min(segments * mss, Math.max(2 * mss, 14600)) : segments * mss;
}

/**
 * CUBIC (RFC 9438). The window follows W_cubic(t) = C*(t-K)^3 + W_max (in segments, t in seconds
 * since the congestion event): concave up to the last maximum, convex beyond it. It never grows
 * slower than Reno would (the Reno-friendly estimate W_est, section 4.3), shrinks by beta = 0.7 on
 * loss, and with fast convergence (4.7) lowers W_max when losses come before the last maximum.
 * Slow start is RFC 5681's with byte counting, as for NewReno.
 */
export class Cubic implements CongestionControl {
  static readonly C = 0.4;
  static readonly BETA = 0.7;
  /** Reno-friendly additive increase, 3(1-beta)/(1+beta) segments per RTT (RFC 9438 4.3). */
  static readonly ALPHA = (3 * (1 - Cubic.BETA)) / (1 + Cubic.BETA);
  readonly name = 'cubic';
  ssthresh = 0x7fffffff;
  /** Window in segments, fractional. */
  private w = 0;
  private mss = 536;
  /** Window before the last reduction, and the one before that (fast convergence), in segments. */
  wMax = 0;
  private wLastMax = 0;
  /** Start of the current congestion-avoidance epoch (ms), -1 when none. */
  private epoch = -1;
  /** Time to reach wMax from the epoch's start, seconds. */
  k = 0;
  /** Reno-friendly estimate, segments. */
  wEst = 0;
  /** Smoothed RTT (ms) from the samples given to onAck; 0 until the first. */
  private srtt = 0;
  /** In the slow start that follows a retransmission timeout. */
  private afterTimeout = false;

  constructor(private readonly initialWindowSegments = 10, readonly fastConvergence = true) {}

  get cwnd(): number {
    return Math.floor(this.w * this.mss);
  }

  init(mss: number, _now: number): void {
    this.mss = mss;
    this.w = initialWindowBytes(this.initialWindowSegments, mss) / mss;
    this.epoch = -1;
  }

  setMss(mss: number): void {
    // Keep the window in bytes.
    if (this.w > 0) this.w = (this.w * this.mss) / mss;
    this.wMax = (this.wMax * this.mss) / mss;
    this.wLastMax = (this.wLastMax * this.mss) / mss;
    this.mss = mss;
  }

  /** W_cubic(t) in segments, t in seconds since the epoch. */
  wCubic(t: number): number {
    const d = t - this.k;
    return Cubic.C * d * d * d + this.wMax;
  }

  onAck(ackedBytes: number, _flightBefore: number, now: number, rtt: number): void {
    if (rtt >= 0) this.srtt = this.srtt === 0 ? rtt : this.srtt + (rtt - this.srtt) / 8;
    if (this.cwnd < this.ssthresh) {
      this.w += slowStartIncrease(ackedBytes, this.cwnd, this.ssthresh, this.mss, this.afterTimeout) / this.mss;
      return;
    }
    this.afterTimeout = false;
    const segs = ackedBytes / this.mss;
    if (this.epoch < 0) {
      // A new epoch (after slow start, a timeout or an idle restart): RFC 9438 4.2 / 4.8.
      this.epoch = now;
      this.wEst = this.w;
      if (this.w < this.wMax) {
        this.k = Math.cbrt((this.wMax - this.w) / Cubic.C);
      } else {
        this.k = 0;
        this.wMax = this.w;
      }
    }
    const t = (now - this.epoch) / 1000;
    // Reno-friendly region (4.3): alpha until W_est reaches the old maximum, then 1 (Reno).
    const alpha = this.wEst >= this.wMax ? 1 : Cubic.ALPHA;
    this.wEst += (alpha * segs) / this.w;
    const cubic = this.wCubic(t);
    if (cubic < this.wEst) {
      this.w = Math.max(this.w, this.wEst);
      return;
    }
    // Concave / convex regions (4.4, 4.5): aim at W_cubic one RTT ahead, at most 1.5 cwnd.
    let target = this.wCubic(t + this.srtt / 1000);
    if (target < this.w) target = this.w;
    else if (target > 1.5 * this.w) target = 1.5 * this.w;
    this.w += ((target - this.w) / this.w) * segs;
  }

  private reduce(flight: number): void {
    const cur = this.w;
    // Fast convergence (4.7): a loss before the last maximum releases bandwidth for newer flows.
    if (this.fastConvergence && cur < this.wLastMax) {
      this.wLastMax = cur;
      this.wMax = (cur * (1 + Cubic.BETA)) / 2;
    } else {
      this.wLastMax = cur;
      this.wMax = cur;
    }
    // ssthresh from the flight size (4.6), never below 2 segments.
    const base = Math.min(cur * this.mss, Math.max(flight, 0) || cur * this.mss);
    this.ssthresh = Math.max(Math.floor(base * Cubic.BETA), 2 * this.mss);
  }

  onCongestionEvent(flight: number, now: number): void {
    this.afterTimeout = false;
    this.reduce(flight);
    this.w = this.ssthresh / this.mss;
    // The epoch starts at the reduction: K is the time back to the old maximum.
    this.epoch = now;
    this.wEst = this.w;
    this.k = this.w < this.wMax ? Math.cbrt((this.wMax - this.w) / Cubic.C) : 0;
  }

  onRecoveryExit(flight: number, _now: number): void {
    this.w = Math.min(this.ssthresh, Math.max(flight, 0) + this.mss) / this.mss;
  }

  onRetransmitTimeout(flight: number, _now: number): void {
    this.reduce(flight);
    this.w = 1;
    this.afterTimeout = true;
    this.epoch = -1; // slow start up to ssthresh, then a new epoch
  }

  onIdleRestart(_now: number): void {
    const rw = initialWindowBytes(10, this.mss) / this.mss;
    if (this.w > rw) this.w = rw;
    this.epoch = -1; // no growth credit for the idle time
  }
}

/**
 * No congestion control: cwnd never limits, so only the peer's window and our send buffer do.
 * Loss detection and retransmission (fast retransmit, SACK recovery, RTO) work as with the
 * others; only the window reductions are gone. For experiments only (isolating flow control,
 * comparing with stacks that have none, like smoltcp's default build), never on a shared
 * network: a sender without congestion control does not back off when a queue overflows.
 */
export class NoCongestionControl implements CongestionControl {
  readonly name = 'none';
  /** Large enough never to bind (2^31-1 bytes, more than any send buffer), small enough for int arithmetic. */
  readonly cwnd = 0x7fffffff;
  readonly ssthresh = 0x7fffffff;
  init(_mss: number, _now: number): void {}
  setMss(_mss: number): void {}
  onAck(_ackedBytes: number, _flightBefore: number, _now: number, _rtt: number): void {}
  onCongestionEvent(_flight: number, _now: number): void {}
  onRecoveryExit(_flight: number, _now: number): void {}
  onRetransmitTimeout(_flight: number, _now: number): void {}
}

export type CongestionControlName = 'newreno' | 'cubic' | 'none';

/** The factory for a configured algorithm (a name or a factory of one's own). */
export function congestionControlFactory(choice: CongestionControlName | CongestionControlFactory,
  initialWindow = 10): CongestionControlFactory {
  if (typeof choice === 'function') return choice;
  if (choice === 'newreno') return () => new NewReno(initialWindow);
  if (choice === 'cubic') return () => new Cubic(initialWindow);
  if (choice === 'none') return () => new NoCongestionControl();
  throw new TypeError(`TcpConfig.congestionControl must be 'newreno', 'cubic', 'none' or a factory, got ${String(choice)}`);
}
