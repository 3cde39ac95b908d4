/**
 * IPv4 reassembly (RFC 791, RFC 815 holes kept as a sorted list of ranges).
 * Overlapping fragments discard the whole datagram (as Linux does since
 * RFC 5722's reasoning was applied to IPv4): no teardrop, no overlap
 * ambiguity. Exact duplicates are ignored. Memory is capped over all
 * datagrams: the oldest is evicted to make room. Datagrams that time out with
 * their first fragment in hand are reported (ICMP time exceeded, code 1).
 */
import { Ipv4Address } from '../wire/ipv4-address';
import type { Ipv4Header } from '../wire/ipv4';

export interface ReassemblyLimits {
  /** Time a datagram may take to arrive whole (ms). */
  timeout: number;
  /** Bytes of buffers held over all datagrams. */
  memoryCap: number;
  /** Datagrams in reassembly at once. */
  maxDatagrams: number;
}

export const DEFAULT_REASSEMBLY_LIMITS: ReassemblyLimits = { timeout: 30_000, memoryCap: 1 << 20, maxDatagrams: 64 };

export type ReassemblyResult =
  | 'incomplete' | 'complete' | 'duplicate' | 'overlap' | 'too-long' | 'bad-fragment' | 'no-memory';

class Datagram {
  /** Received ranges [starts[i], ends[i]), sorted, non-overlapping, merged. */
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  /** Total payload length once the last fragment came, else -1. */
  total = -1;
  buffer: Uint8Array;
  /** The first fragment's header fields (for delivery and for the time-exceeded quote); ttl -1 until it came. */
  ttl = -1;
  tos = 0;
  firstQuote: Uint8Array | null = null;
  constructor(
    readonly src: Ipv4Address, readonly dst: Ipv4Address, readonly protocol: number, readonly id: number,
    readonly expiresAt: number, size: number,
  ) {
    this.buffer = new Uint8Array(size);
  }
}

export class Reassembler {
  readonly limits: ReassemblyLimits;
  /** Keyed by src * 65536 + id; few entries share a key (different dst/protocol). */
  private readonly datagrams = new Map<number, Datagram[]>();
  /** Insertion (= expiry) order, for eviction and timeouts. */
  private readonly order: Datagram[] = [];
  private memory = 0;
  /** The datagram completed by the last `add` (its buffer holds `completeLength` bytes of payload). */
  completed: Datagram | null = null;
  completeLength = 0;
  /** Called for each datagram dropped by timeout or eviction, with its first fragment's quote (header + 8 bytes) or null. */
  onExpire: ((quote: Uint8Array | null, src: Ipv4Address, reason: 'timeout' | 'evicted') => void) | null = null;

  constructor(limits: Partial<ReassemblyLimits> = {}) {
    this.limits = { ...DEFAULT_REASSEMBLY_LIMITS, ...limits };
  }

  get memoryInUse(): number {
    return this.memory;
  }

  get pending(): number {
    return this.order.length;
  }

  /**
   * Adds the fragment `h` whose payload is buf[offset, offset+length) (the IP
   * header is at buf[headerOffset..]). On 'complete', `completed` and
   * `completeLength` give the whole payload until the next call.
   */
  add(h: Ipv4Header, buf: Uint8Array, headerOffset: number, offset: number, length: number, now: number): ReassemblyResult {
    this.completed = null;
    const start = h.fragmentOffset;
    const end = start + length;
    if (end > 65535 - 20) return 'too-long';
    if (h.moreFragments && (length === 0 || (length & 7) !== 0)) return 'bad-fragment';
    const k = h.src * 65536 + h.id;
    let list = this.datagrams.get(k);
    let d: Datagram | undefined;
    if (list) for (const x of list) if (x.dst === h.dst && x.protocol === h.protocol) { d = x; break; }
    if (!d) {
      const size = h.moreFragments ? Math.max(2048, end) : end;
      if (!this.makeRoom(size)) return 'no-memory';
      d = new Datagram(h.src, h.dst, h.protocol, h.id, now + this.limits.timeout, size);
      this.memory += size;
      if (!list) this.datagrams.set(k, (list = []));
      list.push(d);
      this.order.push(d);
    }
    // Consistency of the end of the datagram.
    if (!h.moreFragments) {
      if (d.total >= 0 && d.total !== end) { this.drop(d); return 'overlap'; }
      if (d.ends.length > 0 && d.ends[d.ends.length - 1] > end) { this.drop(d); return 'overlap'; }
      d.total = end;
    } else if (d.total >= 0 && end > d.total) {
      this.drop(d); return 'overlap';
    }
    // Find where the range goes; refuse overlaps, ignore exact duplicates.
    const starts = d.starts, ends = d.ends;
    let i = 0;
    while (i < starts.length && ends[i] <= start) i++;
    if (i < starts.length && starts[i] < end) {
      if (length === 0 || (starts[i] <= start && ends[i] >= end && this.sameBytes(d, buf, offset, start, length))) return 'duplicate';
      this.drop(d);
      return 'overlap';
    }
    if (length === 0 && h.moreFragments) return 'bad-fragment';
    // Grow the buffer if needed (sizes only grow to the largest end seen).
    if (end > d.buffer.length) {
      const size = Math.min(65535, Math.max(end, d.buffer.length * 2));
      if (!this.makeRoom(size - d.buffer.length, d)) { this.drop(d); return 'no-memory'; }
      const bigger = new Uint8Array(size);
      bigger.set(d.buffer);
      this.memory += size - d.buffer.length;
      d.buffer = bigger;
    }
    d.buffer.set(buf.subarray(offset, offset + length), start);
    // Insert and merge with neighbours.
    starts.splice(i, 0, start);
    ends.splice(i, 0, end);
    if (i + 1 < starts.length && ends[i] === starts[i + 1]) { ends[i] = ends[i + 1]; starts.splice(i + 1, 1); ends.splice(i + 1, 1); }
    if (i > 0 && ends[i - 1] === starts[i]) { ends[i - 1] = ends[i]; starts.splice(i, 1); ends.splice(i, 1); }
    if (start === 0) {
      d.ttl = h.ttl;
      d.tos = h.tos;
      const qlen = Math.min(h.headerLength + 8, h.totalLength);
      d.firstQuote = buf.slice(headerOffset, headerOffset + qlen);
    }
    if (d.total >= 0 && starts.length === 1 && starts[0] === 0 && ends[0] === d.total) {
      this.remove(d);
      this.completed = d;
      this.completeLength = d.total;
      return 'complete';
    }
    return 'incomplete';
  }

  pollAt(): number {
    return this.order.length > 0 ? this.order[0].expiresAt : Infinity;
  }

  poll(now: number): void {
    while (this.order.length > 0 && this.order[0].expiresAt <= now) {
      const d = this.order[0];
      this.remove(d);
      this.onExpire?.(d.firstQuote, d.src, 'timeout');
    }
  }

  private sameBytes(d: Datagram, buf: Uint8Array, offset: number, start: number, length: number): boolean {
    for (let j = 0; j < length; j++) if (d.buffer[start + j] !== buf[offset + j]) return false;
    return true;
  }

  /** Evicts the oldest datagrams until `size` more bytes fit (never `keep`). */
  private makeRoom(size: number, keep?: Datagram): boolean {
    if (size > this.limits.memoryCap) return false;
    while (this.memory + size > this.limits.memoryCap || (!keep && this.order.length >= this.limits.maxDatagrams)) {
      const victim = this.order.find((x) => x !== keep);
      if (!victim) return false;
      this.remove(victim);
      this.onExpire?.(null, victim.src, 'evicted');
    }
    return true;
  }

  private drop(d: Datagram): void {
    this.remove(d);
  }

  private remove(d: Datagram): void {
    const k = d.src * 65536 + d.id;
    const list = this.datagrams.get(k);
    if (list) {
      const j = list.indexOf(d);
      if (j >= 0) list.splice(j, 1);
      if (list.length === 0) this.datagrams.delete(k);
    }
    const j = this.order.indexOf(d);
    if (j >= 0) {
      this.order.splice(j, 1);
      this.memory -= d.buffer.length;
    }
  }
}
