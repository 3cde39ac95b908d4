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

/** RFC 5681 slow start and congestion avoidance with appropriate byte counting (RFC 3465, L = 1 MSS). */
export class NewReno implements CongestionControl {
  readonly name = 'newreno';
  cwnd = 0;
  ssthresh = 0x7fffffff;
  private mss = 536;
  private bytesAcked = 0;

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
      this.cwnd += Math.min(ackedBytes, this.mss);
    } else {
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
  }

  onRecoveryExit(flight: number, _now: number): void {
    // RFC 6582 step 3 full-ACK option 1: deflate to min(ssthresh, FlightSize + SMSS).
    this.cwnd = Math.min(this.ssthresh, Math.max(flight, 0) + this.mss);
  }

  onRetransmitTimeout(flight: number, _now: number): void {
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.mss);
    this.cwnd = this.mss;
    this.bytesAcked = 0;
  }

  onIdleRestart(_now: number): void {
    const rw = Math.min(this.cwnd, Math.min(10 * this.mss, Math.max(2 * this.mss, 14600)));
    this.cwnd = Math.min(this.cwnd, rw);
  }
}
