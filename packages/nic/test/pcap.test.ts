import test from 'ava';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import {
  BROADCAST_MAC, Impairments, PcapReplayNic, PcapWriter, SimLink, SimNic, SimSwitch, VirtualClock, localMac, readPcap,
  readTestSeq, writeTestFrame,
} from '../src';
import { TSHARK, tsharkTest, tsharkVerdict } from './helpers/tshark';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pnet-pcap-'));
test.after.always(() => fs.rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const tmp = (name: string) => path.join(dir, `${fileNo++}-${name}`);

// Every pcap these tests write (but the one made malformed on purpose) must open cleanly in tshark.
test.after('tshark reads every capture these tests wrote: no malformed packet, no expert error', (t) => {
  if (!TSHARK) {
    if (process.env.CI === 'true') t.fail('tshark is required with CI=true but was not found');
    else console.warn('\n*** SKIPPING the tshark sweep of the pcap tests: tshark not found. With CI=true this fails. ***\n');
    return;
  }
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.pcap') && !f.includes('malformed'));
  t.true(files.length >= 10, `only ${files.length} captures`);
  for (const f of files) {
    const v = tsharkVerdict(TSHARK, path.join(dir, f));
    t.deepEqual(v.problems, [], `${f}: ${v.expert}`);
  }
});

const IMPAIRED: Impairments = {
  delay: 2, jitter: 0.5, loss: 0.05, gilbertElliott: { p: 0.01, r: 0.3 }, duplicate: 0.02, reorder: 0.02,
  corrupt: 0.01, corruptFrom: 46, rate: 100e6, queuePackets: 32,
};

/** Two NICs on an impaired link, both directions busy, captured at b (both ways) and on the link. */
function capture(seed: number, frames = 3000): { nicFile: string; linkFile: string; written: number } {
  const clock = new VirtualClock();
  const a = new SimNic({ name: 'a', mac: localMac(1), clock });
  const b = new SimNic({ name: 'b', mac: localMac(2), clock });
  const link = new SimLink({ clock, seed, aToB: IMPAIRED, bToA: { ...IMPAIRED, loss: 0.1 } }).connect(a, b);
  const nicFile = tmp(`nic-${seed}.pcap`);
  const linkFile = tmp(`link-${seed}.pcap`);
  const atNic = new PcapWriter({ path: nicFile, bufferSize: 4096 });
  const onLink = new PcapWriter({ path: linkFile });
  atNic.tapNic(b);
  onLink.tapLink(link);
  const buf = new Uint8Array(1514);
  b.onReceive(() => { while (b.rx.peek()) b.rx.release(); });
  a.onReceive(() => { while (a.rx.peek()) a.rx.release(); });
  for (let i = 0; i < frames; i++) {
    clock.runUntil(i * 0.05);
    a.transmit(buf, writeTestFrame(buf, { src: localMac(1), dst: localMac(2), seq: i, length: 60 + ((i * 37) % 1455) }));
    if (i % 3 === 0) {
      b.transmit(buf, writeTestFrame(buf, { src: localMac(2), dst: localMac(1), seq: i, length: 60 + (i % 200), srcIp: 0xc6336402, dstIp: 0xc6336401 }));
    }
  }
  clock.runUntilIdle();
  atNic.close();
  onLink.close();
  return { nicFile, linkFile, written: atNic.packets };
}

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

test('the writer produces a classic microsecond Ethernet pcap that reads back exactly', async (t) => {
  const file = tmp('basic.pcap');
  const w = new PcapWriter({ path: file, snaplen: 100 });
  const frame = new Uint8Array(300).map((_, i) => i & 0xff);
  w.write(frame, 60, 0);
  w.write(frame, 300, 1234.5678); // 1.2345678 s -> rounds to 1 s 234568 us
  w.close();
  const raw = fs.readFileSync(file);
  t.is(raw.readUInt32LE(0), 0xa1b2c3d4);
  t.is(raw.readUInt16LE(4), 2);
  t.is(raw.readUInt16LE(6), 4);
  t.is(raw.readUInt32LE(16), 100);
  t.is(raw.readUInt32LE(20), 1);
  t.is(raw.length, 24 + 16 + 60 + 16 + 100);
  t.is(w.bytes, raw.length);
  const cap = await readPcap(file);
  t.is(cap.linkType, 1);
  t.is(cap.snaplen, 100);
  t.false(cap.truncated);
  t.is(cap.packets.length, 2);
  t.is(cap.packets[0].timestamp, 0);
  t.is(cap.packets[1].timestamp, 1234.568);
  t.is(cap.packets[1].data.length, 100);
  t.is(cap.packets[1].originalLength, 300);
  t.deepEqual([...cap.packets[1].data], [...frame.subarray(0, 100)]);
});

test('frames larger than the write buffer, flush and many records survive intact', async (t) => {
  const file = tmp('big.pcap');
  const w = new PcapWriter({ path: file, bufferSize: 64 });
  const big = new Uint8Array(9000).map((_, i) => (i * 7) & 0xff);
  for (let i = 0; i < 50; i++) w.write(big, 14 + i * 150, i);
  w.flush();
  t.is(fs.statSync(file).size, w.bytes);
  w.close();
  const cap = await readPcap(file);
  t.is(cap.packets.length, 50);
  cap.packets.forEach((p, i) => {
    t.is(p.data.length, 14 + i * 150);
    t.is(p.data[p.data.length - 1], big[p.data.length - 1]);
    t.is(p.timestamp, i);
  });
});

test('close detaches taps; writing after close is an API error; close is idempotent', (t) => {
  const clock = new VirtualClock();
  const a = new SimNic({ name: 'a', mac: localMac(1), clock });
  const b = new SimNic({ name: 'b', mac: localMac(2), clock });
  new SimLink({ clock }).connect(a, b);
  const w = new PcapWriter({ path: tmp('closed.pcap'), clock });
  w.tapNic(a, ['tx']);
  const buf = new Uint8Array(60);
  a.transmit(buf);
  w.close();
  w.close();
  t.notThrows(() => a.transmit(buf));
  t.is(w.packets, 1);
  t.throws(() => w.write(buf), { message: /after close/ });
});

test('a truncated file is flagged; a file that is not pcap is rejected', async (t) => {
  const good = capture(5, 50).linkFile;
  const raw = fs.readFileSync(good);
  const cut = await readPcap(Readable.from([raw.subarray(0, raw.length - 7)]));
  t.true(cut.truncated);
  await t.throwsAsync(readPcap(Readable.from([Buffer.from('definitely not a pcap file')])), { message: /magic/ });
});

test('two runs with one seed write byte-identical pcaps (SHA-256); another seed does not', (t) => {
  const one = capture(77);
  const two = capture(77);
  const other = capture(78);
  t.true(one.written > 1000);
  t.is(sha256(one.nicFile), sha256(two.nicFile));
  t.is(sha256(one.linkFile), sha256(two.linkFile));
  t.not(sha256(one.nicFile), sha256(other.nicFile));
});

tsharkTest('tshark reads our captures (NIC tap and link tap, impaired traffic) with zero malformed packets and zero expert errors', (t, tshark) => {
  const { nicFile, linkFile, written } = capture(99);
  const v = tsharkVerdict(tshark, nicFile);
  t.is(v.frames, written);
  t.deepEqual(v.problems, [], v.expert);
  const l = tsharkVerdict(tshark, linkFile);
  t.true(l.frames > 0);
  t.deepEqual(l.problems, [], l.expert);
});

tsharkTest('tshark reads a capture of a switched network (all ports) cleanly', (t, tshark) => {
  const clock = new VirtualClock();
  const sw = new SimSwitch({ clock, seed: 4 });
  const nics = [1, 2, 3].map((i) => new SimNic({ name: `h${i}`, mac: localMac(i), clock }));
  const file = tmp('switch.pcap');
  const w = new PcapWriter({ path: file });
  w.tap(sw); // before any port exists: it sees ports connected later too
  nics.forEach((n, i) => sw.connect(n, { egress: { delay: 0.1 * (i + 1), duplicate: 0.05 } }));
  const buf = new Uint8Array(1514);
  for (let i = 0; i < 300; i++) {
    clock.runUntil(i * 0.2);
    const from = i % 3;
    const dst = i % 7 === 0 ? BROADCAST_MAC : localMac(((from + 1) % 3) + 1);
    nics[from].transmit(buf, writeTestFrame(buf, { src: localMac(from + 1), dst, seq: i, length: 60 + i }));
  }
  clock.runUntilIdle();
  w.close();
  t.is(w.packets, 300);
  const v = tsharkVerdict(tshark, file);
  t.is(v.frames, 300);
  t.deepEqual(v.lengths, Array.from({ length: 300 }, (_, i) => 60 + i));
  t.deepEqual(v.problems, [], v.expert);
});

tsharkTest('the tshark check does catch a malformed capture', (t, tshark) => {
  const file = tmp('malformed.pcap');
  const w = new PcapWriter({ path: file });
  const buf = new Uint8Array(100);
  writeTestFrame(buf, { src: localMac(1), dst: localMac(2), seq: 1, length: 100 });
  buf[38] = 0xff; // UDP length far beyond the IP payload
  w.write(buf, 100, 0);
  w.close();
  const v = tsharkVerdict(tshark, file);
  t.is(v.frames, 1);
  t.true(v.problems.length > 0);
});

test('replay plays a capture into rx with its original timing in virtual time', async (t) => {
  const file = tmp('replay-src.pcap');
  const w = new PcapWriter({ path: file });
  const buf = new Uint8Array(200);
  const times = [0, 0.001, 0.5, 0.5, 3.25, 1000.125];
  times.forEach((ts, i) => w.write(buf, writeTestFrame(buf, { src: localMac(1), dst: localMac(2), seq: i, length: 60 + i }), 10_000 + ts));
  w.close();

  const clock = new VirtualClock(50);
  const nic = await PcapReplayNic.fromFile(file, { name: 'replay', mac: localMac(9), clock, startAt: 100 });
  const got: { seq: number; ts: number; len: number; now: number }[] = [];
  nic.onReceive(() => {
    for (let f = nic.rx.peek(); f; f = nic.rx.peek()) {
      got.push({ seq: readTestSeq(f.data), ts: f.timestamp, len: f.length, now: clock.now() });
      nic.rx.release();
    }
  });
  nic.start();
  t.throws(() => nic.start(), { message: /already started/ });
  clock.runUntil(100.5);
  t.is(got.length, 4);
  t.false(nic.done);
  clock.runUntilIdle();
  t.true(nic.done);
  t.deepEqual(got.map((g) => g.seq), [0, 1, 2, 3, 4, 5]);
  got.forEach((g, i) => {
    t.true(Math.abs(g.ts - (100 + times[i])) < 1e-9, `frame ${i} at ${g.ts}`);
    t.is(g.now, g.ts);
    t.is(g.len, 60 + i);
  });
  t.is(nic.counters.rxPackets, 6);
});

test('replay at double speed halves the gaps; stop halts it; transmit is discarded', (t) => {
  const clock = new VirtualClock();
  const packets = [0, 10, 30].map((timestamp, i) => ({ timestamp, data: Buffer.alloc(60, i), originalLength: 60 }));
  const nic = new PcapReplayNic({ name: 'r', mac: localMac(3), clock, packets, speed: 2 });
  const seen: number[] = [];
  nic.onReceive(() => { for (let f = nic.rx.peek(); f; f = nic.rx.peek()) { seen.push(f.timestamp); nic.rx.release(); } });
  nic.start();
  clock.runUntil(5);
  t.deepEqual(seen, [0, 5]);
  nic.stop();
  clock.runUntilIdle();
  t.deepEqual(seen, [0, 5]);
  t.true(nic.transmit(Buffer.alloc(60)));
  t.is(nic.counters.txPackets, 1);
});
