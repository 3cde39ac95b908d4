/** The retransmission timeout estimator of RFC 6298. All values in milliseconds. */
export class RttEstimator {
  // -0 is a double: these become fractional, and a field that starts as a Smi is generalised (a map change
  // that deoptimises the connection code) at the first fraction.
  srtt = -0;
  rttvar = -0;
  /** The current RTO, including backoff. */
  rto = -0;
  samples = 0;

  constructor(readonly initialRto: number, readonly minRto: number, readonly maxRto: number, readonly granularity = 1) {
    this.srtt = 0;
    this.rttvar = 0;
    this.rto = clamp(initialRto, minRto, maxRto);
  }

  /** Feeds one RTT measurement (Karn's rule is the caller's: never from a retransmitted segment). */
  sample(rtt: number): void {
    if (!(rtt >= 0)) return;
    if (this.samples === 0) {
      this.srtt = rtt;
      this.rttvar = rtt / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - rtt);
      this.srtt = 0.875 * this.srtt + 0.125 * rtt;
    }
    this.samples++;
    this.rto = clamp(this.srtt + Math.max(this.granularity, 4 * this.rttvar), this.minRto, this.maxRto);
  }

  /** Exponential backoff after a retransmission timeout (RFC 6298 5.5). */
  backoff(): void {
    this.rto = Math.min(this.rto * 2, this.maxRto);
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
