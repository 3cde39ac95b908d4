/**
 * Receive offload in software (as Linux's napi_gro_receive), for TCP over IPv4 over Ethernet:
 * within one receive batch of an interface, a frame whose headers repeat those of the previous
 * frame (an in-order data segment that TCP's fast path took) but for what changes from one
 * segment to the next (IP identification, total length, header checksum; TCP sequence number,
 * which must be the connection's RCV.NXT, and checksum) goes straight to that connection: its
 * IPv4 header checksum and TCP checksum are verified, and the Ethernet, IP and TCP parsing and
 * checks, the IP delivery and the demultiplexing are skipped, since they would decide exactly as
 * they did for the previous frame. Anything else (a different flag, window, ACK, option or
 * timestamp, another connection, a bad checksum, a gap) goes the full way, which counts and drops
 * as ever. Unlike Linux, segments are not glued into one: each payload is copied from its frame
 * into the receive buffer by the connection's fast path, so nothing is copied twice; what is
 * saved is the per-layer work per frame. The ACKs are those of `coalesceAcks` (one per batch).
 */
import type { TcpConnection } from '../tcp/connection';
import type { TcpLayer } from '../tcp/tcp-layer';
import type { NetworkInterface } from './network-interface';
import type { StackStats } from '../stats';
import { finishChecksum, sumWords, wordsOf } from '../wire/checksum';

/** Ethernet (14) + IPv4 without options (20): where the TCP header starts. */
const TCP_AT = 34;
/** The largest header kept, TCP's 60 bytes with options, rounded up to whole 32-bit words. */
const MAX_HEADER = 96;
/** Which header bytes must repeat: all but IP's total length, identification and checksum, TCP's sequence number and checksum. */
const REPEATED = new Uint8Array(MAX_HEADER).fill(0xff);
REPEATED.fill(0, 16, 20);
REPEATED.fill(0, 24, 26);
REPEATED.fill(0, TCP_AT + 4, TCP_AT + 8);
REPEATED.fill(0, TCP_AT + 16, TCP_AT + 18);

export class TcpGro {
  /** The connection the template's segment went to; null: no template. */
  private conn: TcpConnection | null = null;
  private iface: NetworkInterface | null = null;
  /** The headers of the last frame taken (Ethernet, IPv4, TCP with options), as bytes and as words. */
  private readonly words = new Uint32Array(MAX_HEADER / 4);
  private readonly header = new Uint8Array(this.words.buffer);
  /** REPEATED cut at the header's end (the payload after it differs), as words: compares are word-wide. */
  private readonly maskWords = new Uint32Array(MAX_HEADER / 4);
  private readonly mask = new Uint8Array(this.maskWords.buffer);
  private headerLength = 0;
  /** The template's IPv4 header words that repeat, summed (the checksum check adds the three that change). */
  private ipSum = 0;
  /** The TCP pseudo-header's sum but for the length. */
  private pseudoSum = 0;
  constructor(private readonly tcp: TcpLayer, private readonly stats: StackStats) {}

  /** Whether frames of `iface` may be merged: its NIC verifies no checksum (offloads decide per frame otherwise). */
  static eligible(iface: NetworkInterface): boolean {
    const nic = iface.nic;
    return nic.rxChecksumOk === undefined && !iface.checksumOffload('ipv4').rx && !iface.checksumOffload('tcp').rx;
  }

  reset(): void {
    this.conn = null;
    this.iface = null;
  }

  /**
   * After a frame went the full way: when TCP's fast path took its segment (`tcp.fastConn`), its
   * headers become the template, if the frame is a plain one (no VLAN tag, IPv4 without options,
   * not a fragment); otherwise there is none.
   */
  capture(iface: NetworkInterface, buf: Uint8Array, length: number): void {
    const conn = this.tcp.fastConn;
    this.tcp.fastConn = null;
    this.conn = null;
    if (conn === null || length < TCP_AT + 20 || buf[12] !== 0x08 || buf[13] !== 0x00 || buf[14] !== 0x45 ||
        (buf[20] & 0x3f) !== 0 || buf[21] !== 0 || buf[23] !== 6) return;
    const n = TCP_AT + ((buf[TCP_AT + 12] >>> 4) << 2);
    if (n > length) return;
    const h = this.header;
    const m = this.mask;
    for (let i = 0; i < MAX_HEADER; i++) {
      h[i] = i < n ? buf[i] : 0;
      m[i] = i < n ? REPEATED[i] : 0;
    }
    let sum = 0;
    for (let i = 14; i < TCP_AT; i += 2) if (REPEATED[i] !== 0) sum += (h[i] << 8) | h[i + 1];
    this.ipSum = sum;
    this.pseudoSum = ((h[26] << 8) | h[27]) + ((h[28] << 8) | h[29]) + ((h[30] << 8) | h[31]) + ((h[32] << 8) | h[33]) + 6;
    this.headerLength = n;
    this.conn = conn;
    this.iface = iface;
  }

  /**
   * Takes the frame if it continues the template's run: true when it was handed to the connection
   * (whichever way the connection then took it). False, with nothing counted, when the frame must
   * go the full way (it differs, or a checksum fails: the full way counts that).
   */
  receive(iface: NetworkInterface, buf: Uint8Array, length: number): boolean {
    const conn = this.conn;
    if (conn === null || iface !== this.iface || !iface.adminUp) return false;
    const n = this.headerLength;
    if (length <= n || !this.repeats(buf, n)) return false;
    const total = (buf[16] << 8) | buf[17];
    if (total <= n - 14 || total > length - 14) return false;
    const seqNo = (buf[TCP_AT + 4] << 24) | (buf[TCP_AT + 5] << 16) | (buf[TCP_AT + 6] << 8) | buf[TCP_AT + 7];
    // The next byte expected, of a connection still there to take it (else the full way: a gap, an RST...).
    if (seqNo !== conn.rcvNxt || conn.state !== 'ESTABLISHED' || conn.demuxKey < 0) return false;
    // IPv4 header checksum: the repeated words' sum plus the three that change. Then TCP's over the segment.
    if (finishChecksum(this.ipSum + total + ((buf[18] << 8) | buf[19]) + ((buf[24] << 8) | buf[25])) !== 0) return false;
    const tcpLength = total - 20;
    if (finishChecksum(sumWords(buf, TCP_AT, tcpLength, this.pseudoSum + tcpLength)) !== 0) return false;
    this.stats.ethernet.rx++;
    this.stats.ipv4.rx++;
    if (!this.tcp.groReceive(conn, seqNo, buf, n, total + 14 - n)) this.conn = null;
    return true;
  }

  /** Whether buf's first `n` bytes repeat the template where they must: a word at a time when the frame is aligned. */
  private repeats(buf: Uint8Array, n: number): boolean {
    const t = this.words;
    const m = this.maskWords;
    const nw = (n + 3) >>> 2;
    const off = buf.byteOffset;
    if ((off & 3) === 0) {
      // One view per memory, kept (frames come from several: a link's pool arenas and the ring).
      const w = wordsOf(buf.buffer);
      const base = off >>> 2;
      // The last word may reach past the frame (masked out), not past the memory.
      if (base + nw <= w.length) {
        for (let i = 0; i < nw; i++) if (((w[base + i] ^ t[i]) & m[i]) !== 0) return false;
        return true;
      }
    }
    const h = this.header;
    const mb = this.mask;
    for (let i = 0; i < n; i++) if (((buf[i] ^ h[i]) & mb[i]) !== 0) return false;
    return true;
  }
}
