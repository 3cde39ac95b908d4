/**
 * GRO (TcpConfig.gro, iface/gro.ts) and the receive fast path it feeds (header prediction,
 * connection.ts predictedData): crafted frames queued in a StubNic's ring and taken in one receive
 * batch. Each run is compared with the same frames under `gro: false` (and `coalesceAcks: false`
 * where said): the frames the stack sends must not change, only the work done to get there.
 */
import test from 'ava';
import { localMac } from '@pnet/nic';
import { FrameScript } from '../src/testing/frame-script';
import { ethernet, ipv4 } from '../src/testing/frames';
import { parseIpv4 } from '../src/wire/ipv4-address';
import type { TcpConnection } from '../src/tcp/connection';
import type { TcpConfig } from '../src/tcp/config';
import {
  TCP_PROTOCOL, TcpOptionSet, TcpSegmentView, parseTcp, tcpOptionsLength, writeTcpChecksum, writeTcpHeaderRaw, writeTcpOptions,
} from '../src/wire/tcp';
import { parseFlags, pattern } from './tcp-harness';

const US = localMac(0x10);
const PEER = localMac(0x20);
const US_IP = '192.0.2.1';
const PEER_IP = '192.0.2.2';
const SEG = 1000;

interface FrameSpec {
  flags: string; seq: number; ack?: number; srcPort?: number; win?: number; mss?: number; sackOk?: boolean;
  ts?: [number, number]; data?: Uint8Array; badChecksum?: boolean;
}

function tcpFrame(spec: FrameSpec): Uint8Array {
  const o = new TcpOptionSet();
  if (spec.mss) o.mss = spec.mss;
  if (spec.sackOk) o.sackPermitted = true;
  if (spec.ts) { o.hasTimestamp = true; o.tsVal = spec.ts[0]; o.tsEcr = spec.ts[1]; }
  const ol = tcpOptionsLength(o);
  const data = spec.data ?? new Uint8Array(0);
  const seg = new Uint8Array(20 + ol + data.length);
  writeTcpHeaderRaw(seg, 0, spec.srcPort ?? 40000, 80, spec.seq | 0, (spec.ack ?? 0) | 0, parseFlags(spec.flags), spec.win ?? 65535, ol);
  writeTcpOptions(seg, 20, o);
  seg.set(data, 20 + ol);
  writeTcpChecksum(seg, 0, seg.length, parseIpv4(PEER_IP), parseIpv4(US_IP));
  if (spec.badChecksum) seg[20 + ol] ^= 0x55; // a payload byte: only the checksum tells
  return ethernet({ dst: US, src: PEER }, ipv4({ src: PEER_IP, dst: US_IP, protocol: TCP_PROTOCOL, dontFragment: true }, seg));
}

/** What the stack sent: the TCP fields that matter, per frame. */
function sent(s: FrameScript): string[] {
  const out: string[] = [];
  for (let f = s.nic().take(); f !== undefined; f = s.nic().take()) {
    const v = new TcpSegmentView();
    const ihl = (f[14] & 0x0f) * 4;
    if (parseTcp(f, 14 + ihl, ((f[16] << 8) | f[17]) - ihl, v) !== null) throw new Error('bad frame');
    const sack = [];
    for (let i = 0; i < v.sackCount; i++) sack.push(`${v.sackBlocks[2 * i]}-${v.sackBlocks[2 * i + 1]}`);
    out.push(`${v.dstPort} ack=${v.ack} win=${v.window} len=${v.payloadLength}${sack.length ? ` sack=${sack.join(',')}` : ''}`);
  }
  return out;
}

interface Peer { port: number; seq: number; ack: number; conn: TcpConnection }

/** A stack listening on port 80, and `ports.length` connections to it from PEER, established. */
function setUp(tcp: Partial<TcpConfig>, ports: number[], opts: { ts?: boolean; offload?: boolean } = {}): { s: FrameScript; peers: Peer[] } {
  const cs = { tx: false, rx: opts.offload === true };
  const s = FrameScript.create({
    interfaces: [{ mac: US, ip: US_IP, prefix: 24, capabilities: opts.offload ? { checksum: { ipv4: cs, tcp: cs, udp: cs, icmp: cs } } : undefined }],
    stack: { tcp: { receiveAutoTune: false, ...tcp } },
  });
  s.stack.arp.set('eth0', PEER_IP, PEER);
  const l = s.stack.tcp.openListener({ port: 80 });
  const peers: Peer[] = [];
  for (const port of ports) {
    const ts: [number, number] | undefined = opts.ts ? [100, 0] : undefined;
    s.send(tcpFrame({ flags: 'S', seq: 1000, srcPort: port, mss: 1460, sackOk: true, ts }));
    const v = new TcpSegmentView();
    const f = s.nic().take()!;
    parseTcp(f, 34, ((f[16] << 8) | f[17]) - 20, v);
    const ack = (v.seq + 1) >>> 0;
    s.send(tcpFrame({ flags: '.', seq: 1001, ack, srcPort: port, ts: opts.ts ? [100, v.tsVal] : undefined }));
    peers.push({ port, seq: 1001, ack, conn: l.accept()! });
  }
  s.discardAll();
  return { s, peers };
}

/** The next `SEG` bytes of peer `p`'s stream as a frame (the stream is pattern(port)). */
function data(p: Peer, extra: Partial<FrameSpec> = {}): Uint8Array {
  const off = p.seq - 1001;
  const f = tcpFrame({ flags: '.', seq: p.seq, ack: p.ack, srcPort: p.port, data: pattern(p.port, off + SEG).subarray(off), ...extra });
  p.seq += SEG;
  return f;
}

function readAll(c: TcpConnection): Buffer {
  const parts: Buffer[] = [];
  for (let b = c.readBuffer(); b !== null; b = c.readBuffer()) parts.push(Buffer.from(b));
  return Buffer.concat(parts);
}

test('GRO: a run of in-order segments in one batch goes to the connection after the first, every byte in order, one ACK', (t) => {
  const results: string[][] = [];
  for (const gro of [true, false]) {
    const { s, peers: [p] } = setUp({ gro }, [40000]);
    const stats = s.stack.tcp.stats;
    const fastBefore = stats.fastPathSegments;
    for (let i = 0; i < 8; i++) s.nic().inject(data(p));
    s.settle();
    t.is(stats.groSegments, gro ? 7 : 0, 'the first goes the full way, the others straight to the connection');
    t.is(stats.fastPathSegments - fastBefore, 8);
    t.is(s.stack.stats.ethernet.rx, s.stack.stats.ipv4.rx, 'every frame counted at each layer');
    const out = sent(s);
    t.deepEqual(out.map((x) => x.split(' ')[1]), [`ack=${1001 + 8 * SEG}`], 'one ACK for the batch');
    t.deepEqual(readAll(p.conn), pattern(40000, 8 * SEG));
    results.push(out);
  }
  t.deepEqual(results[0], results[1], 'the same frames out with and without GRO');
});

test('GRO: a corrupt segment in the middle of a run is dropped and counted; the rest is out of order and SACKed, as without GRO', (t) => {
  const results: string[][] = [];
  for (const gro of [true, false]) {
    const { s, peers: [p] } = setUp({ gro }, [40000]);
    const stats = s.stack.tcp.stats;
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 8; i++) frames.push(data(p, i === 3 ? { badChecksum: true } : {}));
    for (const f of frames) s.nic().inject(f);
    s.settle();
    t.is(s.stack.stats.get('tcp').errors['bad-checksum'], 1, 'the corrupt one counted');
    t.is(stats.groSegments, gro ? 2 : 0, 'the two after the first; none past the corrupt one (a gap)');
    t.is(stats.oooSegments, 4);
    t.is(p.conn.receiveBuffer.length, 3 * SEG, 'in order: up to the hole');
    const out = sent(s);
    t.is(out.length, 4, 'a duplicate ACK per out-of-order segment');
    t.true(out.every((x) => x.includes(`ack=${1001 + 3 * SEG} `) && x.includes('sack=')));
    // The retransmission fills the hole.
    p.seq = 1001 + 3 * SEG;
    s.send(data(p));
    t.deepEqual(sent(s).map((x) => x.split(' ')[1]), [`ack=${1001 + 8 * SEG}`]);
    t.deepEqual(readAll(p.conn), pattern(40000, 8 * SEG));
    results.push(out);
  }
  t.deepEqual(results[0], results[1]);
});

test('GRO: no merging across a flag, timestamp or window change, nor across connections', (t) => {
  const results: string[][] = [];
  for (const gro of [true, false]) {
    const { s, peers: [a, b] } = setUp({ gro }, [40000, 40001], { ts: true });
    const stats = s.stack.tcp.stats;
    const ts: [number, number] = [200, 0];
    const frames = [
      data(a, { ts }), data(a, { ts }), // merged
      data(a, { ts, flags: 'P.' }), // PSH: the full way (and a new template)
      data(a, { ts }), data(a, { ts }), // back to ACK alone: the full way, then merged
      data(a, { ts: [201, 0] }), data(a, { ts: [201, 0] }), // a new timestamp: the full way, then merged
      data(b, { ts }), // another connection
      data(a, { ts: [201, 0] }), data(a, { ts: [201, 0] }), // back to a: the full way, then merged
      data(a, { ts: [201, 0], win: 60000 }), // a smaller window: the full way (and not the fast path)
    ];
    for (const f of frames) s.nic().inject(f);
    s.settle();
    t.is(stats.groSegments, gro ? 4 : 0);
    results.push(sent(s));
    t.deepEqual(readAll(a.conn), pattern(40000, 10 * SEG));
    t.deepEqual(readAll(b.conn), pattern(40001, SEG));
  }
  t.deepEqual(results[0], results[1]);
});

test('GRO: none on a NIC that verifies checksums itself (offload), nor without ACK coalescing; the same frames out', (t) => {
  const results: string[][] = [];
  for (const [tcp, offload] of [[{}, true], [{ coalesceAcks: false }, false], [{ gro: false, coalesceAcks: false }, false]] as const) {
    const { s, peers: [p] } = setUp(tcp, [40000], { offload });
    for (let i = 0; i < 6; i++) s.nic().inject(data(p));
    s.settle();
    t.is(s.stack.tcp.stats.groSegments, 0);
    results.push(sent(s));
    t.deepEqual(readAll(p.conn), pattern(40000, 6 * SEG));
  }
  t.is(results[0].length, 1, 'offload: coalesced, one ACK');
  t.deepEqual(results[1], results[2], 'without coalescing: every second segment ACKed, GRO or not');
  t.is(results[1].length, 3);
});

test('TcpConfig.gro must be a boolean', (t) => {
  t.throws(() => setUp({ gro: 1 as unknown as boolean }, []), { message: /TcpConfig.gro must be a boolean/ });
});
