/**
 * TCP against the Linux kernel over a TAP in offload mode (TapNic `offload: true`: virtio_net_hdr,
 * partial checksums, TSO/GSO super-frames of up to 64 KiB across the fd, wire MTU 1500), inside a
 * network namespace the test creates (TEST-NET 192.0.2.0/24 only). 100 MB each way with a python3
 * peer, identical SHA-256 on both ends; the TapNic's counters must show super-frames really crossed
 * both ways (so the test fails if offload silently stops); a smaller transfer is captured and must
 * be clean in tshark. Needs root: skips loudly without (fails with CI=true).
 */
import test, { ExecutionContext } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as path from 'node:path';
import { KERNEL_PEER_DONE, PcapWriter, captureProblems, tsharkLines, RealClock, Rng, TapNic, TestHost, kernelPeerArgv, requireRoot, writeKernelPeer } from '@pnet/nic';
import { Stack } from '../src';

const rootTest = requireRoot(test, { commands: ['python3', 'tshark'] });
/** Hang guard (not a speed assertion: a broken transfer fails instead of hanging). */
const GUARD_MS = 300_000;

interface Rig { host: TestHost; stack: Stack; nic: TapNic; script: string }

async function rig(t: ExecutionContext, label: string): Promise<Rig> {
  const clock = new RealClock();
  const host = await TestHost.create(t, { label, tap: { clock, offload: true } });
  const nic = host.nic!;
  const stack = new Stack({ clock, rng: new Rng(label.length * 7919), name: label });
  stack.addInterface(nic, { ip: host.peerAddress, netmask: 24 });
  stack.start();
  t.teardown(() => stack.close());
  return { host, stack, nic, script: writeKernelPeer(host.dir) };
}

function guard<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, rej) => { timer = setTimeout(() => rej(new Error(`hang guard: ${what}`)), GUARD_MS); })])
    .finally(() => clearTimeout(timer));
}

/** Moves `size` bytes one way over a fresh connection; both ends' byte counts and SHA-256 must agree. */
async function transfer(t: ExecutionContext, r: Rig, up: boolean, size: number, port: number): Promise<void> {
  const peer = r.host.spawn(kernelPeerArgv(r.script, { mode: up ? 'sink' : 'source', host: r.host.address, port, size }));
  await peer.waitForOutput(/listening/);
  const sock = r.stack.tcp.connect({ host: r.host.address, port });
  const hash = createHash('sha256');
  let got = 0;
  sock.on('data', (d: Buffer) => { got += d.length; hash.update(d); });
  const closed = once(sock, 'close');
  if (up) {
    const block = randomBytes(1000003); // not a power of two: a misplaced chunk changes the hash
    for (let off = 0; off < size;) {
      const n = Math.min(64 * 1024, size - off, block.length - (off % block.length));
      const chunk = block.subarray(off % block.length, off % block.length + n);
      hash.update(chunk);
      off += n;
      if (!sock.write(chunk)) await guard(once(sock, 'drain'), 'drain');
    }
    sock.end();
  } else {
    await guard(once(sock, 'end'), 'the kernel\'s FIN');
    sock.end();
  }
  await guard(closed, 'close');
  const m = await guard(peer.waitForOutput(KERNEL_PEER_DONE), 'the peer\'s summary');
  t.is(Number(m[1]), size, 'the kernel side moved every byte');
  if (!up) t.is(got, size, 'we received every byte');
  t.is(hash.digest('hex'), m[2], `SHA-256 matches (${up ? 'pnet -> kernel' : 'kernel -> pnet'})`);
}

function checkClean(t: ExecutionContext, r: Rig): void {
  const tcp = r.stack.tcp.stats;
  t.deepEqual(r.stack.stats.get('tcp').errors, {}, 'no TCP errors (a partial checksum taken as bad would show here)');
  t.is(tcp.errors['internal-error'] ?? 0, 0);
  t.is(r.nic.counters.rxErrors + r.nic.counters.txErrors, 0, `NIC counters ${JSON.stringify(r.nic.counters)}`);
}

rootTest.serial('offload: 100 MB each way between our stack and the kernel, identical SHA-256, super-frames both ways', async (t) => {
  const r = await rig(t, 'tso100');
  t.true(r.nic.offload);
  t.is(r.nic.capabilities.tsoMaxBytes, 65535);
  t.is(r.nic.capabilities.mtu, 1500, 'the wire MTU stays 1500');
  await transfer(t, r, true, 100_000_000, 5301);
  const sent = r.nic.offloadCounters.gsoTxFrames;
  t.true(sent > 0, `TSO super-frames were written (counters ${JSON.stringify(r.nic.offloadCounters)})`);
  await transfer(t, r, false, 100_000_000, 5302);
  t.true(r.nic.offloadCounters.gsoRxFrames > 0, `the kernel sent GSO super-frames (counters ${JSON.stringify(r.nic.offloadCounters)})`);
  checkClean(t, r);
  // The kernel counts frames at the TAP as they crossed the fd: super-frames, fewer than 100 MB / 1448.
  const k = r.host.kernelStats();
  t.log(`kernel ${JSON.stringify(k)}, ours ${JSON.stringify(r.nic.offloadCounters)}, nic ${JSON.stringify(r.nic.counters)}`);
});

rootTest.serial('offload: a capture with super-frames both ways is clean in tshark, every checksum verifies', async (t) => {
  const r = await rig(t, 'tsopcap');
  const pcapPath = path.join(r.host.dir, 'tso.pcap');
  // Super-frames are up to 65550 bytes: the default snaplen keeps them whole.
  const pcap = new PcapWriter({ path: pcapPath });
  t.true(pcap.snaplen > 65550);
  pcap.tapNic(r.nic);
  await transfer(t, r, true, 4_000_000, 5303);
  await transfer(t, r, false, 4_000_000, 5304);
  pcap.close();
  checkClean(t, r);
  // While a capture watches, TapNic completes the checksums the kernel and we left partial: every one verifies.
  t.deepEqual(captureProblems(pcapPath, { checksums: true }), [], 'no malformed frames, no expert errors, every IP and TCP checksum verifies');
  // Frames longer than the wire allows (1514) both ways: ours to the kernel, and the kernel's to us.
  const big = tsharkLines(pcapPath, 'frame.len > 1514', 'ip.src');
  t.true(big.includes(r.host.peerAddress), 'super-frames from us in the capture');
  t.true(big.includes(r.host.address), 'super-frames from the kernel in the capture');
});
