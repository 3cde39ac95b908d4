import * as fs from 'node:fs';
import type { Clock } from '../clock/clock';
import type { FrameDirection } from '../nic/nic';
import {
  LINKTYPE_ETHERNET, PCAP_GLOBAL_HEADER_LENGTH, PCAP_MAGIC_MICROS, PCAP_RECORD_HEADER_LENGTH, PCAP_VERSION_MAJOR,
  PCAP_VERSION_MINOR,
} from './pcap-format';

export interface PcapWriterOptions {
  /** File to create (truncated if it exists). */
  path: string;
  /**
   * Largest number of bytes kept per frame (default 262144, as tcpdump: a TAP's 64 KiB GSO super-frames
   * fit whole); longer frames are truncated, their length kept.
   */
  snaplen?: number;
  /** Bytes buffered before a write to the file (default 256 KiB). */
  bufferSize?: number;
  /** Seconds added to every timestamp: clock times start near 0, so captures start at 1970 by default. */
  epochSeconds?: number;
  /** Clock for `write` calls that pass no timestamp. */
  clock?: Clock;
}

/** Anything with taps shaped like a NIC's or a link's: (direction, frame, length, timestamp). */
export interface TapSource<D extends string> {
  addTap(tap: (direction: D, frame: Uint8Array, length: number, timestamp: number) => void): () => void;
}

/**
 * Writes a classic pcap file (microsecond timestamps, LINKTYPE_ETHERNET) from
 * frames tapped off NICs or simulated media. Records are assembled in one
 * buffer and written with synchronous writes when it fills, on `flush` and on
 * `close`, so a capture is complete the moment `close` returns and the
 * writer adds no events to the clock (captures of one seed are identical).
 */
export class PcapWriter {
  readonly path: string;
  readonly snaplen: number;
  private fd: number;
  private readonly buf: Buffer;
  private pos = 0;
  private readonly epochSeconds: number;
  private readonly clock: Clock | undefined;
  private detachers: (() => void)[] = [];
  private frames = 0;
  private written = 0;

  constructor(options: PcapWriterOptions) {
    const snaplen = options.snaplen ?? 262144;
    if (!Number.isInteger(snaplen) || snaplen < 14 || snaplen > 262144) {
      throw new RangeError(`PcapWriter: snaplen must be an integer from 14 to 262144, got ${snaplen}`);
    }
    const bufferSize = options.bufferSize ?? 256 * 1024;
    if (!Number.isInteger(bufferSize) || bufferSize < 64) throw new RangeError(`PcapWriter: bufferSize must be an integer >= 64, got ${bufferSize}`);
    const epoch = options.epochSeconds ?? 0;
    if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`PcapWriter: epochSeconds must be an integer >= 0, got ${epoch}`);
    this.path = options.path;
    this.snaplen = snaplen;
    this.epochSeconds = epoch;
    this.clock = options.clock;
    this.buf = Buffer.alloc(bufferSize);
    this.fd = fs.openSync(options.path, 'w');
    const b = this.buf;
    b.writeUInt32LE(PCAP_MAGIC_MICROS, 0);
    b.writeUInt16LE(PCAP_VERSION_MAJOR, 4);
    b.writeUInt16LE(PCAP_VERSION_MINOR, 6);
    b.writeInt32LE(0, 8); // thiszone: UTC
    b.writeUInt32LE(0, 12); // sigfigs
    b.writeUInt32LE(snaplen, 16);
    b.writeUInt32LE(LINKTYPE_ETHERNET, 20);
    this.pos = PCAP_GLOBAL_HEADER_LENGTH;
  }

  /** Frames written so far. */
  get packets(): number {
    return this.frames;
  }

  /** Bytes in the file once flushed (header included). */
  get bytes(): number {
    return this.written + this.pos;
  }

  get isClosed(): boolean {
    return this.fd < 0;
  }

  /**
   * Appends one frame (copied) with a timestamp in clock milliseconds (default:
   * the clock's now). Throws once the writer is closed.
   */
  write(frame: Uint8Array, length: number = frame.length, timestamp?: number): void {
    if (this.fd < 0) throw new Error(`PcapWriter(${this.path}): write after close`);
    let ts = timestamp;
    if (ts === undefined) {
      if (!this.clock) throw new Error('PcapWriter.write: no timestamp given and no clock configured');
      ts = this.clock.now();
    }
    if (!(ts >= 0)) throw new RangeError(`PcapWriter.write: timestamp must be >= 0 ms, got ${ts}`);
    if (length > frame.length || length < 0) throw new RangeError(`PcapWriter.write: length ${length} exceeds the frame`);
    const caplen = length < this.snaplen ? length : this.snaplen;
    const micros = Math.round(ts * 1000);
    const sec = Math.floor(micros / 1e6);
    const usec = micros - sec * 1e6;
    if (this.pos + PCAP_RECORD_HEADER_LENGTH + caplen > this.buf.length) this.flush();
    const b = this.buf;
    let p = this.pos;
    b.writeUInt32LE((sec + this.epochSeconds) >>> 0, p);
    b.writeUInt32LE(usec, p + 4);
    b.writeUInt32LE(caplen, p + 8);
    b.writeUInt32LE(length, p + 12);
    p += PCAP_RECORD_HEADER_LENGTH;
    if (p + caplen <= b.length) {
      if (caplen <= 64) {
        for (let i = 0; i < caplen; i++) b[p + i] = frame[i];
      } else {
        b.set(caplen === frame.length ? frame : frame.subarray(0, caplen), p);
      }
      this.pos = p + caplen;
    } else {
      // Bigger than the whole buffer: header from the buffer, frame straight to the file.
      this.pos = p;
      this.flush();
      this.writeAll(frame.subarray(0, caplen));
    }
    this.frames++;
  }

  /** Captures what `nic` sends and/or receives (both by default). Returns a function that stops it. */
  tapNic(nic: TapSource<FrameDirection>, directions: readonly FrameDirection[] = ['rx', 'tx']): () => void {
    return this.tap(nic, directions);
  }

  /**
   * Captures frames from any tap source (a SimLink, whose taps see frames as
   * they arrive after impairments, or a switch or hub port), optionally only
   * some directions. Returns a function that stops it.
   */
  tap<D extends string>(source: TapSource<D>, directions?: readonly D[]): () => void {
    const want = directions ? new Set<string>(directions) : null;
    const fn = (d: D, f: Uint8Array, l: number, t: number): void => {
      if (want === null || want.has(d)) this.write(f, l, t);
    };
    const off = source.addTap(fn);
    let live = true;
    const detach = () => {
      if (!live) return;
      live = false;
      off();
      this.detachers = this.detachers.filter((x) => x !== detach);
    };
    this.detachers.push(detach);
    return detach;
  }

  /** Alias of `tap` for links, for readability. */
  tapLink<D extends string>(link: TapSource<D>, directions?: readonly D[]): () => void {
    return this.tap(link, directions);
  }

  /** Writes buffered records to the file. */
  flush(): void {
    if (this.fd < 0 || this.pos === 0) return;
    this.writeAll(this.buf.subarray(0, this.pos));
    this.pos = 0;
  }

  /** Detaches every tap, flushes and closes the file. Idempotent. */
  close(): void {
    if (this.fd < 0) return;
    for (const d of [...this.detachers]) d();
    this.flush();
    fs.closeSync(this.fd);
    this.fd = -1;
  }

  private writeAll(data: Uint8Array): void {
    let off = 0;
    while (off < data.length) off += fs.writeSync(this.fd, data, off, data.length - off);
    this.written += data.length;
  }
}
