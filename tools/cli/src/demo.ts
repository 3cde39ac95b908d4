/**
 * `pnpm start`: a short narrated tour of the NIC layer. Two simulated NICs on
 * a link that loses 10 % of frames each way, in virtual time; host A sends
 * numbered UDP datagrams, host B echoes each one it gets; we print what the
 * link did, the NICs' counters, and where the capture of it all was written.
 *
 * Options: --pcap <file> (default: pnet-demo.pcap in the OS temp directory),
 * --frames <n> (default 200), --seed <n> (default 2026).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import {
  PcapWriter, SimLink, SimNic, VirtualClock, formatMac, localMac, readTestSeq, writeTestFrame,
} from '@pnet/nic';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function main(): void {
  const pcapPath = path.resolve(option('pcap', path.join(os.tmpdir(), 'pnet-demo.pcap')));
  const frames = Number(option('frames', '200'));
  const seed = Number(option('seed', '2026'));
  if (!Number.isInteger(frames) || frames < 1) throw new Error(`--frames must be a positive integer, got ${option('frames', '')}`);
  const say = (s: string) => console.log(s);

  say('pnet NIC demo: two simulated NICs on a lossy link, in virtual time\n');
  const clock = new VirtualClock();
  const a = new SimNic({ name: 'host-a', mac: localMac(0xa), clock });
  const b = new SimNic({ name: 'host-b', mac: localMac(0xb), clock });
  const lossy = { delay: 5, jitter: 1, keepOrder: true, loss: 0.1 };
  const link = new SimLink({ clock, seed, aToB: lossy, bToA: lossy }).connect(a, b);
  say(`1. ${a.name} (${formatMac(a.capabilities.mac)}) and ${b.name} (${formatMac(b.capabilities.mac)}) are cabled together.`);
  say('   Each direction: 5 ms ± 1 ms latency (order kept) and 10 % random loss, drawn from seed ' + seed + '.');

  const pcap = new PcapWriter({ path: pcapPath });
  pcap.tapNic(a);
  say(`2. Capturing everything ${a.name} sends and receives to ${pcapPath}`);

  // B echoes every datagram back to A, swapping addresses.
  const reply = new Uint8Array(b.maxFrameSize);
  b.onReceive(() => {
    for (let f = b.rx.peek(); f !== null; f = b.rx.peek()) {
      const len = writeTestFrame(reply, {
        dst: a.capabilities.mac, src: b.capabilities.mac, seq: readTestSeq(f.data), length: f.length,
        srcIp: 0xc6336402, dstIp: 0xc6336401, srcPort: 9, dstPort: 49152,
      });
      b.rx.release();
      b.transmit(reply, len);
    }
  });
  const echoed = new Set<number>();
  a.onReceive(() => {
    for (let f = a.rx.peek(); f !== null; f = a.rx.peek()) {
      echoed.add(readTestSeq(f.data));
      a.rx.release();
    }
  });

  say(`3. ${a.name} sends ${frames} datagrams, one per millisecond of virtual time; ${b.name} echoes each it receives.`);
  const buf = a.txBuffer();
  for (let seq = 0; seq < frames; seq++) {
    clock.runUntil(seq);
    a.transmit(buf, writeTestFrame(buf, { dst: b.capabilities.mac, src: a.capabilities.mac, seq, length: 64 + (seq % 8) * 100 }));
  }
  clock.runUntilIdle();
  pcap.close();
  say(`   Done at virtual time ${clock.now().toFixed(3)} ms after ${clock.eventsRun} events (no real waiting).\n`);

  say('4. What the link did:');
  for (const dir of ['aToB', 'bToA'] as const) {
    const s = link.stats[dir];
    say(`   ${dir}: offered ${s.offered}, lost ${s.droppedLoss} (${((100 * s.droppedLoss) / Math.max(1, s.offered)).toFixed(1)} %), delivered ${s.delivered}`);
  }
  say('5. NIC counters:');
  for (const nic of [a, b]) {
    const c = nic.counters;
    say(`   ${nic.name}: tx ${c.txPackets} frames / ${c.txBytes} B, rx ${c.rxPackets} frames / ${c.rxBytes} B, drops tx ${c.txDrops} rx ${c.rxDrops}`);
  }
  const rate = (100 * echoed.size) / frames;
  say(`6. Round trips completed: ${echoed.size} of ${frames} (${rate.toFixed(1)} %; about 81 % expected with 10 % loss each way).`);
  say(`7. Capture: ${pcap.packets} frames, ${pcap.bytes} bytes in ${pcapPath}`);
  say(`   Open it with: tshark -r ${pcapPath}   (or Wireshark)`);
}

try {
  main();
} catch (e) {
  console.error(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
