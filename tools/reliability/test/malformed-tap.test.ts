/**
 * Malformed frames from outside: scapy, in a network namespace on the kernel side of our TAP, sends truncated,
 * oversized, bad-checksum, bad-length, overlapping-fragment and option-garbage frames at our stack (192.0.2.2).
 * Between and after the volleys the kernel pings us and talks TCP to our echo server; our counters must show the
 * drops. Needs root and Debian's python3-scapy: skips loudly without (fails with CI=true).
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RealClock, Rng, TestHost, formatMac, requireRoot } from '@pnet/nic';
import { Stack } from '@pnet/tcpip';

const rootTest = requireRoot(test, { commands: ['/usr/bin/python3', 'ping'] });

const SCAPY_PY = String.raw`
import sys
from scapy.all import Ether, IP, ICMP, TCP, UDP, Raw, sendp, fragment, conf
conf.verb = 0
iface, dmac, src, dst, rounds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
e = Ether(dst=dmac)
frames = []
base_ping = e / IP(src=src, dst=dst) / ICMP(id=7, seq=1) / Raw(b'x' * 64)
raw = bytes(base_ping)
frames.append(raw[:10])                                  # truncated Ethernet
frames.append(raw[:14 + 12])                             # truncated IPv4 header
frames.append(raw[:14 + 20 + 4])                         # truncated ICMP
frames.append(raw + b'\x00' * 3000)                      # oversized (over the MTU)
frames.append(bytes(e / IP(src=src, dst=dst, chksum=0x1234) / ICMP() / Raw(b'y' * 20)))        # bad IP checksum
frames.append(bytes(e / IP(src=src, dst=dst) / ICMP(chksum=0x1234) / Raw(b'y' * 20)))          # bad ICMP checksum
frames.append(bytes(e / IP(src=src, dst=dst) / UDP(sport=1, dport=7, chksum=0x1234) / Raw(b'z' * 20)))  # bad UDP checksum
frames.append(bytes(e / IP(src=src, dst=dst) / TCP(sport=1, dport=7, flags='S', chksum=0x1234)))        # bad TCP checksum
frames.append(bytes(e / IP(src=src, dst=dst, len=2000) / ICMP() / Raw(b'y' * 20)))             # total length too big
frames.append(bytes(e / IP(src=src, dst=dst, len=10) / ICMP() / Raw(b'y' * 20)))               # total length too small
frames.append(bytes(e / IP(src=src, dst=dst, ihl=15) / ICMP() / Raw(b'y' * 20)))               # IHL beyond the packet
frames.append(bytes(e / IP(src=src, dst=dst, version=5) / ICMP()))                               # bad version
frames.append(bytes(e / IP(src=src, dst=dst) / UDP(sport=1, dport=7, len=4000) / Raw(b'z' * 20)))       # bad UDP length
frames.append(bytes(e / IP(src=src, dst=dst, options=b'\x07\x99\xff\xff\x44\x00\x01\x02') / ICMP() / Raw(b'o' * 8)))  # IP option garbage
frames.append(bytes(e / IP(src=src, dst=dst) / TCP(sport=1, dport=7, flags='S', options=[(254, b'\xff' * 30)])))      # TCP option garbage
frames.append(bytes(e / IP(src=src, dst=dst) / TCP(sport=1, dport=7, flags='S', dataofs=15)))      # data offset beyond the segment
# Overlapping fragments (teardrop-style) of a big ping.
big = IP(src=src, dst=dst, id=4242) / ICMP(id=8, seq=1) / Raw(b'f' * 3000)
frs = fragment(big, fragsize=1480)
frames.append(bytes(e / frs[0]))
ov = frs[1].copy(); ov.frag = 100; del ov.chksum
frames.append(bytes(e / ov))
frames.append(bytes(e / IP(src=src, dst=dst, id=4343, flags='MF', frag=0) / Raw(b'a' * 48)))
frames.append(bytes(e / IP(src=src, dst=dst, id=4343, frag=2, proto=1) / Raw(b'b' * 8)))          # inside the first
frames.append(bytes(e / IP(src=src, dst=dst, id=4444, frag=8190) / Raw(b'c' * 800)))            # ends beyond 65,535
sent = refused = 0
for r in range(rounds):
    for f in frames:
        try:
            sendp(f, iface=iface); sent += 1
        except OSError as err:
            refused += 1
print('sent', sent, 'refused by the kernel', refused, flush=True)
`;

rootTest('scapy: truncated, oversized, bad-checksum, bad-length, overlapping-fragment and option-garbage frames are counted and dropped; pings and TCP still work', async (t) => {
  const clock = new RealClock();
  const host = await TestHost.create(t, { label: 'scapy', tap: { clock }, mtu: 9000 }) // the kernel side may send giants;
  const nic = host.nic!;
  const stack = new Stack({ clock, rng: new Rng(5), name: 'scapy' });
  stack.addInterface(nic, { ip: host.peerAddress, netmask: 24 });
  stack.start();
  const echo = stack.tcp.listen({ port: 7 });
  echo.on('connection', (s) => s.pipe(s));
  t.teardown(() => { echo.close(); stack.close(); });
  const script = path.join(host.dir, 'malformed.py');
  fs.writeFileSync(script, SCAPY_PY);

  const pingOnce = async () => (await host.exec(['ping', '-c', '3', '-i', '0.2', '-W', '5', host.peerAddress], { check: false })).stdout;
  const tcpOnce = async () => (await host.exec(['/usr/bin/python3', '-c',
    `import socket; c=socket.create_connection(('${host.peerAddress}',7),timeout=20); c.sendall(b'hello pnet'); c.shutdown(socket.SHUT_WR)\n` +
    `d=b''\nwhile True:\n  b=c.recv(100)\n  if not b: break\n  d+=b\nprint(d.decode())`], { check: false })).stdout.trim();

  t.regex(await pingOnce(), / 0% packet loss/, 'ping before');
  const before = JSON.stringify(stack.stats.all());
  const rxErrorsBefore = nic.counters.rxErrors + nic.counters.rxDrops;
  const r = await host.exec(['/usr/bin/python3', script, host.ifname, formatMac(nic.capabilities.mac), host.address, host.peerAddress, '20'], { timeoutMs: 120_000 });
  t.regex(r.stdout, /sent \d+ refused by the kernel 0/);
  t.log(r.stdout.trim());
  t.regex(await pingOnce(), / 0% packet loss/, 'ping after');
  t.is(await tcpOnce(), 'hello pnet', 'TCP echo after');

  const s = stack.stats;
  const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
  const ipBad = sum(s.ipv4.drops) + sum(s.ipv4.errors);
  const icmpBad = sum(s.icmp.errors) + sum(s.icmp.drops);
  const udpBad = sum(s.udp.errors) + sum(s.udp.drops);
  const tcpBad = sum(s.get('tcp').errors) + sum(s.get('tcp').drops);
  const ethBad = sum(s.ethernet.errors) + sum(s.ethernet.drops);
  const nicBad = nic.counters.rxErrors + nic.counters.rxDrops - rxErrorsBefore;
  t.true(ipBad >= 20 * 8, `ipv4 drops/errors ${JSON.stringify(s.ipv4.drops)} ${JSON.stringify(s.ipv4.errors)}`);
  t.true(icmpBad >= 20, `icmp ${JSON.stringify(s.icmp.errors)}`);
  t.true(udpBad >= 20, `udp ${JSON.stringify(s.udp.errors)} ${JSON.stringify(s.udp.drops)}`);
  t.true(tcpBad >= 20, `tcp ${JSON.stringify(s.get('tcp').errors)}`);
  t.true(ethBad + nicBad >= 20, `ethernet ${JSON.stringify(s.ethernet)} nic ${JSON.stringify(nic.counters)}`);
  t.log(`before: ${before}`);
  t.log(`after: ethernet ${JSON.stringify(s.ethernet.errors)} ${JSON.stringify(s.ethernet.drops)}; ipv4 ${JSON.stringify(s.ipv4.errors)} ${JSON.stringify(s.ipv4.drops)}; ` +
    `icmp ${JSON.stringify(s.icmp.errors)}; udp ${JSON.stringify(s.udp.errors)} ${JSON.stringify(s.udp.drops)}; tcp ${JSON.stringify(s.get('tcp').errors)}; nic ${JSON.stringify(nic.counters)}`);
});
