/**
 * Receive-buffer auto-tuning (dynamic right-sizing, as Linux's tcp_rcv_space_adjust and the DRS
 * paper of Fisk and Feng): once per round trip, count the bytes the application read in it; when
 * that beats the best round trip so far, the buffer (= the window we may offer) becomes about
 * twice it, more while the count is still climbing (the sender in slow start doubles per round
 * trip, and the window we advertise now is used one round trip later). A reader that does not
 * keep up reads little per round trip, so its window does not grow. The round trip is measured
 * at the receiver: from timestamp echoes (RFC 7323), else by the time a window's worth of data
 * takes to arrive (Linux's rcv_rtt); the sender-side estimate stands in until then.
 *
 * One per connection, made when the first in-order data arrives: idle connections have none.
 */
import { SeqNum, seqDiff, seqGe } from './seq';

/** Segments of cushion on top of twice a round trip's bytes (small variations, a late ACK). */
const CUSHION_SEGMENTS = 16;

export class ReceiveTuner {
  /** Receive-side round-trip estimate in ms (-1: no sample yet). */
  rtt = -1;
  /** Without timestamps: the sequence number ending the window being timed, and when timing began (-1: none). */
  private rttEdge = 0;
  private rttStart = -1;
  private lastTsEcr = -1;
  /** Most bytes read in one measure so far (Linux rcvq_space.space). */
  space: number;
  /** Where the current measure began: the first unread sequence number, and the time. */
  private spaceSeq: SeqNum;
  private spaceTime: number;

  constructor(space: number, copiedSeq: SeqNum, now: number) {
    this.space = Math.max(1, space);
    this.spaceSeq = copiedSeq;
    this.spaceTime = now;
  }

  /**
   * A full-sized in-order segment echoed our timestamp `tsEcr`, sent `sample` ms ago. A segment
   * echoing the same value as the previous one left later than it, so only the first is used.
   */
  tsSample(tsEcr: number, sample: number): void {
    if (tsEcr === this.lastTsEcr || sample < 0) return;
    this.lastTsEcr = tsEcr;
    // Millisecond ticks: a shorter round trip gives samples of 0 and 1 that average out to it.
    this.rtt = this.rtt < 0 ? sample : this.rtt + (sample - this.rtt) / 8;
  }

  /**
   * Without timestamps: in-order data now reaches `rcvNxt`. The byte at the window edge we had
   * advertised when timing began could not be sent before that advertisement arrived, so its
   * arrival takes at least a round trip (exactly one when the sender is window-limited): an upper
   * bound, of which the least is kept.
   */
  windowSample(rcvNxt: SeqNum, rcvAdv: SeqNum, now: number): void {
    if (this.rttStart >= 0) {
      if (!seqGe(rcvNxt, this.rttEdge as SeqNum)) return;
      const sample = now - this.rttStart;
      if (this.rtt < 0 || sample < this.rtt) this.rtt = sample;
    }
    this.rttEdge = rcvAdv;
    this.rttStart = now;
  }

  /**
   * The application has read up to `copiedSeq`. Once a round trip (`fallbackRtt` until there is
   * a receive-side sample) has passed since the measure began, returns the buffer size the
   * measure asks for when it grew (else 0), and starts the next measure. Time must have passed:
   * where it does not (a zero-delay link in virtual time) no rate can be measured.
   */
  adjust(copiedSeq: SeqNum, now: number, fallbackRtt: number, advMss: number): number {
    const rtt = this.rtt >= 0 ? this.rtt : fallbackRtt;
    const elapsed = now - this.spaceTime;
    if (!(rtt >= 0) || elapsed <= 0 || elapsed < rtt) return 0;
    const copied = seqDiff(copiedSeq, this.spaceSeq);
    this.spaceSeq = copiedSeq;
    this.spaceTime = now;
    if (copied <= this.space) return 0;
    // Twice a round trip's bytes (a loss costs a round trip of buffering) plus a cushion; up to
    // twice that again while the count climbs (the sender's rate one round trip on, when this
    // window is used). Bounded, unlike Linux's proportional factor since 4.19: one burst of reads
    // against the small first measure (a paused stream filling its high-water mark) grew a buffer
    // eightfold.
    let want = 2 * copied + CUSHION_SEGMENTS * advMss;
    if (copied >= this.space * 1.5) want *= 2;
    else if (copied >= this.space * 1.25) want *= 1.5;
    this.space = copied;
    return Math.ceil(want);
  }
}
