/**
 * TCP segmentation offload in virtual time: stack A's NIC advertises TSO (`tsoMaxBytes`) and TCP
 * checksum offload, and cuts the super-segments it is handed into wire segments in software, as the
 * kernel behind a TAP does; stack B is plain (MTU 1500, verifies every checksum). Deterministic.
 */
import test from 'ava';
import { SimLink, SimNic, SimNicOptions, Rng, VirtualClock, localMac } from '@pnet/nic';
import { Stack } from '../src/iface/stack';
import { Ipv4Address, ipv4 } from '../src/wire/ipv4-address';
import { setIpv4Checksum } from '../src/wire/ipv4';
import { writeTcpChecksum } from '../src/wire/tcp';
import { Recorder, pattern } from './tcp-harness';

/** A SimNic with TSO: a TCP frame longer than the wire allows is cut into `segmentSize` pieces; TCP checksums are filled in. */
class TsoNic extends SimNic {
  superFrames = 0;
  largest = 0;
  segmentSizes = new Set<number>();
  wireFrames = 0;
  longestWire = 0;
  private readonly piece = new Uint8Array(1600);

  constructor(options: SimNicOptions) {
    super({ ...options, capabilities: { tsoMaxBytes: 65535, checksum: {
      ipv4: { tx: false, rx: false }, tcp: { tx: true, rx: false }, udp: { tx: false, rx: false }, icmp: { tx: false, rx: false } } } });
  }

  // (SimNic declares two parameters; NicBase.transmit passes all four.)
  protected override sendFrame(frame: Uint8Array, length: number, now = 0, segmentSize = 0): boolean {
    const isTcp = frame[12] === 0x08 && frame[13] === 0x00 && frame[23] === 6;
    if (!isTcp) return this.wire(frame, length, now);
    const ihl = (frame[14] & 15) * 4;
    const thl = (frame[14 + ihl + 12] >> 4) * 4;
    const hdr = 14 + ihl + thl;
    const src = readU32(frame, 26) as Ipv4Address, dst = readU32(frame, 30) as Ipv4Address;
    if (length <= this.maxFrameSize) {
      writeTcpChecksum(frame, 14 + ihl, length - 14 - ihl, src, dst);
      return this.wire(frame, length, now);
    }
    this.superFrames++;
    this.largest = Math.max(this.largest, length);
    this.segmentSizes.add(segmentSize);
    const flags = frame[14 + ihl + 13];
    const seq0 = readU32(frame, 14 + ihl + 4);
    const id0 = (frame[18] << 8) | frame[19];
    const p = this.piece;
    for (let off = hdr, k = 0; off < length; off += segmentSize, k++) {
      const n = Math.min(segmentSize, length - off);
      const last = off + n >= length;
      p.set(frame.subarray(0, hdr), 0);
      p.set(frame.subarray(off, off + n), hdr);
      const total = ihl + thl + n;
      p[16] = total >> 8; p[17] = total & 0xff;
      const id = (id0 + k) & 0xffff;
      p[18] = id >> 8; p[19] = id & 0xff;
      setIpv4Checksum(p, 14, ihl);
      writeU32(p, 14 + ihl + 4, (seq0 + (off - hdr)) >>> 0);
      // FIN and PSH belong to the last piece only (as the kernel's GSO does).
      p[14 + ihl + 13] = last ? flags : flags & ~0x09;
      writeTcpChecksum(p, 14 + ihl, thl + n, src, dst);
      if (!this.wire(p, hdr + n, now)) return false;
    }
    return true;
  }

  private wire(frame: Uint8Array, length: number, now: number): boolean {
    this.wireFrames++;
    this.longestWire = Math.max(this.longestWire, length);
    return super.sendFrame(frame, length);
  }
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24; b[o + 1] = (v >>> 16) & 0xff; b[o + 2] = (v >>> 8) & 0xff; b[o + 3] = v & 0xff;
}

/** Stacks a (on `na`, 192.0.2.1) and b (on a plain SimNic, 192.0.2.2) joined by a 1 ms SimLink, started. */
function join(clock: VirtualClock, a: Stack, b: Stack, na: SimNic): SimNic {
  const nb = new SimNic({ name: 'b0', mac: localMac(2), clock });
  new SimLink({ clock, seed: 1, delay: 1 }).connect(na, nb);
  a.addInterface(na, { ip: ipv4(192, 0, 2, 1), netmask: 24 });
  b.addInterface(nb, { ip: ipv4(192, 0, 2, 2), netmask: 24 });
  a.start();
  b.start();
  return nb;
}

test('TSO: A sends 4 MB in super-segments its NIC cuts to the MSS; B (plain, verifying checksums) gets every byte, and the reverse way works', (t) => {
  const clock = new VirtualClock();
  const config = { sendBufferSize: 1 << 20, receiveBufferSize: 1 << 20 };
  const a = new Stack({ clock, rng: new Rng(5), name: 'a', tcp: config });
  const b = new Stack({ clock, rng: new Rng(6), name: 'b', tcp: config });
  const na = new TsoNic({ name: 'a0', mac: localMac(1), clock });
  const nb = join(clock, a, b, na);

  const size = 4_000_000;
  const up = pattern(3, size);
  const down = pattern(4, size);
  const listener = b.tcp.openListener({ port: 80 });
  const sr = new Recorder(clock);
  listener.onAcceptable = () => {
    const s = listener.accept()!;
    sr.attach(s);
    let off = 0;
    sr.onWritableHook = () => {
      while (off < size) { const n = s.write(down, off, size - off); if (n === 0) break; off += n; }
      if (off === size) s.shutdown();
    };
    sr.onWritableHook();
  };
  const cr = new Recorder(clock);
  const c = a.tcp.open({ host: ipv4(192, 0, 2, 2), port: 80 }, cr);
  cr.conn = c;
  let off = 0;
  cr.onWritableHook = () => {
    while (off < size) { const n = c.write(up, off, size - off); if (n === 0) break; off += n; }
    if (off === size) c.shutdown();
  };
  cr.onWritableHook();
  while (clock.now() < 600_000 && !(cr.closed && sr.closed)) if (!clock.step()) break;

  t.true(sr.bytes().equals(up), 'B received A\'s bytes intact');
  t.true(cr.bytes().equals(down), 'A received B\'s bytes intact');
  t.true(na.superFrames > 0, 'A handed its NIC super-segments');
  t.deepEqual([...na.segmentSizes], [c.effMss], 'each with the connection\'s MSS as the segment size');
  t.true(na.largest > 40 * c.effMss, `the window grew to full-size super-segments (largest frame ${na.largest})`);
  t.true(na.largest <= 14 + 65535);
  t.true(na.longestWire <= na.maxFrameSize, 'nothing longer than the MTU on the wire');
  t.deepEqual(b.stats.get('tcp').errors, {}, 'B verified every checksum: none bad');
  t.deepEqual(a.stats.get('tcp').errors, {});
  t.is(na.counters.txErrors + nb.counters.rxErrors, 0);
});

test('without TSO the same NIC class gets no super-segments (the capability is what turns it on)', (t) => {
  const clock = new VirtualClock();
  const a = new Stack({ clock, rng: new Rng(5), name: 'a' });
  const b = new Stack({ clock, rng: new Rng(6), name: 'b' });
  class NoTso extends TsoNic {
    constructor(o: SimNicOptions) { super(o); (this.capabilities as { tsoMaxBytes?: number }).tsoMaxBytes = 0; }
  }
  const na = new NoTso({ name: 'a0', mac: localMac(1), clock });
  join(clock, a, b, na);
  const data = pattern(7, 500_000);
  const listener = b.tcp.openListener({ port: 80 });
  const sr = new Recorder(clock);
  listener.onAcceptable = () => { sr.attach(listener.accept()!); };
  const cr = new Recorder(clock);
  const c = a.tcp.open({ host: ipv4(192, 0, 2, 2), port: 80 }, cr);
  cr.conn = c;
  let off = 0;
  cr.onWritableHook = () => {
    while (off < data.length) { const n = c.write(data, off, data.length - off); if (n === 0) break; off += n; }
    if (off === data.length) c.shutdown();
  };
  cr.onWritableHook();
  while (clock.now() < 600_000 && sr.bytes().length < data.length) if (!clock.step()) break;
  t.true(sr.bytes().equals(data));
  t.is(na.superFrames, 0);
  t.true(na.wireFrames > 300);
});
