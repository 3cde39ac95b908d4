import type { Rng } from '@pnet/nic';
import { SeqNum, seq } from './seq';

/**
 * RFC 6528 initial sequence numbers: ISN = M + F(localip, localport, remoteip, remoteport, key),
 * M a 4-microsecond clock, F a keyed PRF with a key drawn once from the stack's Rng. Distinct
 * connections get unrelated ISNs; the same 4-tuple's ISNs keep increasing with time, as the
 * quiet-time and TIME-WAIT rules expect.
 *
 * F is SipHash-2-4 (Aumasson and Bernstein, 2012) of the 12 bytes of the 4-tuple, truncated to 32
 * bits: a PRF designed for short inputs and a 128-bit secret key, as Linux uses for ISNs. RFC 6528
 * asks for a keyed hash that an off-path attacker cannot predict without the key, not for a MAC
 * of long messages; an HMAC-SHA-256 through node:crypto cost about a tenth of a short
 * connection's CPU time (object creation and a native call), this is arithmetic on 32-bit halves.
 */
export class IsnGenerator {
  /** The key as four little-endian 32-bit words: k0 = key[0..7], k1 = key[8..15]. */
  private readonly key = new Uint32Array(4);
  private readonly input = new Uint8Array(12);
  private readonly out = new Uint32Array(2);
  // The last address pair's offset: most connections go to the peer of the one before (one hash saved each).
  private lastLocal = -1;
  private lastRemote = -1;
  private lastOffset = -0; // a uint32: a double from the start, so the field is never generalised mid-run
  /**
   * The SipHash state after the first message word of an ISN input (the address pair), for the
   * last pair: connections between two hosts differ only in the ports, so each ISN costs the
   * second word and the finalisation (6 SipRounds instead of 8).
   */
  private readonly pairState = new Uint32Array(8);
  private pairLocal = -1;
  private pairRemote = -1;
  private readonly portOut = new Uint32Array(2);
  private portLocal = -1;
  private portRemote = -1;
  private portRemotePort = -1;

  constructor(rng: Rng) {
    const k = rng.fill(new Uint8Array(16));
    for (let i = 0; i < 4; i++) this.key[i] = (k[4 * i] | (k[4 * i + 1] << 8) | (k[4 * i + 2] << 16) | (k[4 * i + 3] << 24)) >>> 0;
  }

  /**
   * The TCP timestamp offset toward a peer: SipHash-2-4 of the 8-byte address pair (local, remote)
   * under the same key (the shorter input keeps it unrelated to the ISNs). One offset per address
   * pair, as Linux does, not per connection: our TSvals toward a host keep increasing from one
   * connection to the next, so a new SYN to a 4-tuple the peer holds in TIME-WAIT is recognised as
   * newer (RFC 6191) instead of being answered with the old connection's ACK and retried after an
   * RTO; and the offset still tells an observer nothing about our clock (RFC 7323 7.1).
   */
  tsOffset(localIp: number, remoteIp: number): number {
    if (localIp === this.lastLocal && remoteIp === this.lastRemote) return this.lastOffset;
    const b = this.input;
    b[0] = localIp >>> 24; b[1] = localIp >>> 16; b[2] = localIp >>> 8; b[3] = localIp;
    b[4] = remoteIp >>> 24; b[5] = remoteIp >>> 16; b[6] = remoteIp >>> 8; b[7] = remoteIp;
    siphash24(this.key, b, 0, 8, this.out);
    this.lastLocal = localIp;
    this.lastRemote = remoteIp;
    return (this.lastOffset = this.out[0]);
  }

  /**
   * RFC 6056 3.3.4's F and G for choosing a local port toward remote:remotePort: SipHash of the
   * 10 bytes (local address, remote address, remote port) under the same key (another input
   * length than the ISN's and the timestamp offset's, so unrelated to both); the low word is the
   * offset into the port range, the high word picks the counter. The last triple's is kept.
   */
  portHash(localIp: number, remoteIp: number, remotePort: number): Uint32Array {
    if (localIp === this.portLocal && remoteIp === this.portRemote && remotePort === this.portRemotePort) return this.portOut;
    const b = this.input;
    b[0] = localIp >>> 24; b[1] = localIp >>> 16; b[2] = localIp >>> 8; b[3] = localIp;
    b[4] = remoteIp >>> 24; b[5] = remoteIp >>> 16; b[6] = remoteIp >>> 8; b[7] = remoteIp;
    b[8] = remotePort >>> 8; b[9] = remotePort;
    siphash24(this.key, b, 0, 10, this.portOut);
    this.portLocal = localIp;
    this.portRemote = remoteIp;
    this.portRemotePort = remotePort;
    return this.portOut;
  }

  /**
   * A secret 32-bit value for hashes that must not be predictable either (the demux table):
   * SipHash of the empty message, so no key bits are handed out.
   */
  get salt(): number {
    siphash24(this.key, this.input, 0, 0, this.out);
    return this.out[0];
  }

  next(nowMs: number, localIp: number, localPort: number, remoteIp: number, remotePort: number): SeqNum {
    // SipHash-2-4 of the 12 bytes local ip, remote ip, local port, remote port (big-endian), as
    // siphash24 would compute it, resuming from the address pair's state when it is the last one.
    const b = this.input;
    if (localIp !== this.pairLocal || remoteIp !== this.pairRemote) {
      b[0] = localIp >>> 24; b[1] = localIp >>> 16; b[2] = localIp >>> 8; b[3] = localIp;
      b[4] = remoteIp >>> 24; b[5] = remoteIp >>> 16; b[6] = remoteIp >>> 8; b[7] = remoteIp;
      sipInit(this.key);
      compress((b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0, (b[4] | (b[5] << 8) | (b[6] << 16) | (b[7] << 24)) >>> 0);
      this.pairState.set(V);
      this.pairLocal = localIp;
      this.pairRemote = remoteIp;
    } else {
      V.set(this.pairState);
    }
    // The last word: the 4 port bytes, and the length (12) in the top byte.
    compress((((localPort >>> 8) & 0xff) | ((localPort & 0xff) << 8) | (((remotePort >>> 8) & 0xff) << 16) | ((remotePort & 0xff) << 24)) >>> 0,
      12 << 24);
    sipFinish(this.out);
    const f = this.out[0];
    const m = Math.floor(nowMs * 250) % 4294967296;
    return seq(f + m);
  }
}

// The SipHash state: four 64-bit words as (low, high) 32-bit halves, in one typed array so the
// rounds allocate nothing.
const V = new Uint32Array(8);

/**
 * SipHash-2-4 of data[offset, offset+length) under a 128-bit key given as four little-endian
 * 32-bit words [k0 low, k0 high, k1 low, k1 high]. Writes the 64-bit result to out as
 * [low, high]. The reference vectors of the SipHash paper are in the unit tests.
 */
export function siphash24(key: Uint32Array, data: Uint8Array, offset: number, length: number, out: Uint32Array): void {
  sipInit(key);
  const end = offset + length;
  const whole = offset + (length & ~7);
  let i = offset;
  for (; i < whole; i += 8) {
    const lo = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) >>> 0;
    const hi = (data[i + 4] | (data[i + 5] << 8) | (data[i + 6] << 16) | (data[i + 7] << 24)) >>> 0;
    compress(lo, hi);
  }
  // The last word: the remaining bytes, and the length (mod 256) in the top byte.
  let lo = 0;
  let hi = (length & 0xff) << 24;
  for (let j = 0; i < end; i++, j++) {
    if (j < 4) lo |= data[i] << (8 * j);
    else hi |= data[i] << (8 * (j - 4));
  }
  compress(lo >>> 0, hi >>> 0);
  sipFinish(out);
}

/** v0..v3 = k0, k1, k0, k1 xor "somepseudorandomlygeneratedbytes". */
function sipInit(key: Uint32Array): void {
  V[0] = key[0] ^ 0x70736575; V[1] = key[1] ^ 0x736f6d65;
  V[2] = key[2] ^ 0x6e646f6d; V[3] = key[3] ^ 0x646f7261;
  V[4] = key[0] ^ 0x6e657261; V[5] = key[1] ^ 0x6c796765;
  V[6] = key[2] ^ 0x79746573; V[7] = key[3] ^ 0x74656462;
}

/** v2 ^= 0xff, four rounds, the 64-bit result v0 ^ v1 ^ v2 ^ v3 as [low, high]. */
function sipFinish(out: Uint32Array): void {
  V[4] ^= 0xff;
  rounds(4);
  out[0] = V[0] ^ V[2] ^ V[4] ^ V[6];
  out[1] = V[1] ^ V[3] ^ V[5] ^ V[7];
}

/** One message word: v3 ^= m, two rounds, v0 ^= m. */
function compress(lo: number, hi: number): void {
  V[6] ^= lo; V[7] ^= hi;
  rounds(2);
  V[0] ^= lo; V[1] ^= hi;
}

/** `n` SipRounds on V: additions mod 2^64 with the carry from the low halves, 64-bit rotations. */
function rounds(n: number): void {
  let v0l = V[0], v0h = V[1], v1l = V[2], v1h = V[3], v2l = V[4], v2h = V[5], v3l = V[6], v3h = V[7];
  let t: number, u: number;
  for (let r = 0; r < n; r++) {
    // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
    t = v0l + v1l; v0h = (v0h + v1h + (t > 0xffffffff ? 1 : 0)) >>> 0; v0l = t >>> 0;
    t = (v1l << 13) | (v1h >>> 19); u = (v1h << 13) | (v1l >>> 19);
    v1l = (t ^ v0l) >>> 0; v1h = (u ^ v0h) >>> 0;
    t = v0l; v0l = v0h; v0h = t;
    // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
    t = v2l + v3l; v2h = (v2h + v3h + (t > 0xffffffff ? 1 : 0)) >>> 0; v2l = t >>> 0;
    t = (v3l << 16) | (v3h >>> 16); u = (v3h << 16) | (v3l >>> 16);
    v3l = (t ^ v2l) >>> 0; v3h = (u ^ v2h) >>> 0;
    // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
    t = v0l + v3l; v0h = (v0h + v3h + (t > 0xffffffff ? 1 : 0)) >>> 0; v0l = t >>> 0;
    t = (v3l << 21) | (v3h >>> 11); u = (v3h << 21) | (v3l >>> 11);
    v3l = (t ^ v0l) >>> 0; v3h = (u ^ v0h) >>> 0;
    // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
    t = v2l + v1l; v2h = (v2h + v1h + (t > 0xffffffff ? 1 : 0)) >>> 0; v2l = t >>> 0;
    t = (v1l << 17) | (v1h >>> 15); u = (v1h << 17) | (v1l >>> 15);
    v1l = (t ^ v2l) >>> 0; v1h = (u ^ v2h) >>> 0;
    t = v2l; v2l = v2h; v2h = t;
  }
  V[0] = v0l; V[1] = v0h; V[2] = v1l; V[3] = v1h; V[4] = v2l; V[5] = v2h; V[6] = v3l; V[7] = v3h;
}
