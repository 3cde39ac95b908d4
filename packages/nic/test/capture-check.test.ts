/**
 * captureProblems (src/testing/tshark.ts), the check every TAP test runs on its capture: it must
 * find a malformed frame and a bad checksum, and find nothing in a clean capture (so a test that
 * relies on it can fail).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PcapWriter, captureProblems, tsharkLines } from '../src';
import { tsharkTest } from './helpers/tshark';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pnet-capcheck-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

function sum16(b: Uint8Array, from: number, to: number, start = 0): number {
  let s = start;
  for (let i = from; i < to; i += 2) s += (b[i] << 8) | (i + 1 < to ? b[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Ethernet + IPv4 (192.0.2.1 -> 192.0.2.2) + TCP with `payload`, both checksums right. */
function tcpFrame(payload: number): Uint8Array {
  const f = new Uint8Array(14 + 20 + 20 + payload);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
  const ip = 14;
  f.set([0x45, 0, (20 + 20 + payload) >> 8, (20 + 20 + payload) & 0xff, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2], ip);
  const ipSum = sum16(f, ip, ip + 20);
  f[ip + 10] = ipSum >> 8; f[ip + 11] = ipSum & 0xff;
  const tcp = ip + 20;
  f.set([0x13, 0x88, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0], tcp);
  for (let i = 0; i < payload; i++) f[tcp + 20 + i] = i & 0xff;
  const pseudo = 0xc000 + 0x0201 + 0xc000 + 0x0202 + 6 + 20 + payload;
  const tcpSum = sum16(f, tcp, f.length, pseudo);
  f[tcp + 16] = tcpSum >> 8; f[tcp + 17] = tcpSum & 0xff;
  return f;
}

function capture(name: string, frames: Uint8Array[]): string {
  const file = path.join(dir, `${name}.pcap`);
  const w = new PcapWriter({ path: file });
  frames.forEach((f, i) => w.write(f, f.length, i * 1000));
  w.close();
  return file;
}

tsharkTest('captureProblems: a clean capture has none; tsharkLines reads fields', (t) => {
  const file = capture('clean', [tcpFrame(10), tcpFrame(100)]);
  t.deepEqual(captureProblems(file, { checksums: true }), []);
  t.deepEqual(tsharkLines(file, 'tcp', 'tcp.len'), ['10', '100']);
});

tsharkTest('captureProblems: a bad TCP checksum is found only when checksums are checked', (t) => {
  const bad = tcpFrame(10);
  bad[14 + 20 + 16] ^= 0x01;
  const file = capture('badsum', [tcpFrame(10), bad]);
  t.deepEqual(captureProblems(file), [], 'tshark does not check checksums by default');
  const found = captureProblems(file, { checksums: true });
  t.true(found.some((l) => l.startsWith('2|')), found.join('\n'));
  t.false(found.some((l) => l.startsWith('1|')), found.join('\n'));
});

tsharkTest('captureProblems: a malformed frame (IPv4 total length past the frame) is found', (t) => {
  const bad = tcpFrame(10);
  bad[14 + 2] = 0x05; // 1280 + ... bytes claimed, 50 present
  const file = capture('malformed', [bad]);
  const found = captureProblems(file);
  t.true(found.length > 0, 'reported');
  t.regex(found.join('\n'), /^1\|/m);
});
