/**
 * `dig` (dnsutils) in a test host queries our DNS server running on our stack
 * over TAP (TEST-NET 192.0.2.0/24 only): A, AAAA, a CNAME chain, NXDOMAIN with
 * the SOA, REFUSED outside the zone, a reply that is truncated over UDP
 * without EDNS (dig then retries over TCP and gets all of it), EDNS and TCP
 * queries. The capture is clean in tshark. Needs root: skips loudly without
 * (fails with CI=true).
 */
import test, { ExecutionContext } from 'ava';
import * as path from 'node:path';
import { PcapWriter, RealClock, Rng, TestHost, captureProblems, requireRoot, tsharkLines } from '@pnet/nic';
import { Stack } from '../src/iface/stack';
import { serveDns } from '../src/dns/stack-dns';
import { DnsServer } from '../src/dns/server';

const rootTest = requireRoot(test, { commands: ['dig', 'tshark'] });

async function rig(t: ExecutionContext) {
  const clock = new RealClock();
  const host = await TestHost.create(t, { label: 'dig', tap: { clock } });
  const nic = host.nic!;
  const pcapPath = path.join(host.dir, 'dig.pcap');
  const pcap = new PcapWriter({ path: pcapPath });
  pcap.tapNic(nic);
  const stack = new Stack({ clock, rng: new Rng(53), name: 'named' });
  stack.addInterface(nic, { ip: host.peerAddress, netmask: 24 });
  stack.start();
  const server = serveDns(stack, new DnsServer({
    origin: 'example.test', negativeTtl: 42,
    records: [
      { name: 'www', type: 'A', value: '192.0.2.80', ttl: 120 },
      { name: 'www', type: 'AAAA', value: '2001:db8::80' },
      { name: 'web', type: 'CNAME', value: 'alias' },
      { name: 'alias', type: 'CNAME', value: 'www' },
      ...Array.from({ length: 60 }, (_, i) => ({ name: 'big', type: 'A' as const, value: `198.51.100.${i + 1}` })),
    ],
  }));
  t.teardown(() => { server.close(); stack.close(); try { pcap.close(); } catch { /* closed already */ } });
  const dig = async (...args: string[]): Promise<string> => {
    const r = await host.exec(['dig', `@${host.peerAddress}`, '+time=3', '+tries=2', ...args], { check: false });
    if (r.code !== 0) throw new Error(`dig ${args.join(' ')} exited ${r.code}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  return { host, stack, server, dig, pcap, pcapPath };
}

rootTest.serial('dig queries our DNS server on our stack over TAP', async (t) => {
  const r = await rig(t);
  t.is((await r.dig('+short', 'www.example.test', 'A')).trim(), '192.0.2.80');
  t.is((await r.dig('+short', 'www.example.test', 'AAAA')).trim(), '2001:db8::80');

  const full = await r.dig('www.example.test', 'A');
  t.regex(full, /status: NOERROR/);
  t.regex(full, /flags: qr aa rd;/); // authoritative, no recursion available
  t.regex(full, /www\.example\.test\.\s+120\s+IN\s+A\s+192\.0\.2\.80/);

  const chain = await r.dig('web.example.test', 'A');
  t.regex(chain, /web\.example\.test\.\s+\d+\s+IN\s+CNAME\s+alias\.example\.test\./);
  t.regex(chain, /alias\.example\.test\.\s+\d+\s+IN\s+CNAME\s+www\.example\.test\./);
  t.regex(chain, /www\.example\.test\.\s+\d+\s+IN\s+A\s+192\.0\.2\.80/);

  const nx = await r.dig('nope.example.test', 'A');
  t.regex(nx, /status: NXDOMAIN/);
  t.regex(nx, /example\.test\.\s+42\s+IN\s+SOA\s/);
  t.regex(await r.dig('www.elsewhere.test', 'A'), /status: REFUSED/);

  // Without EDNS the 60 records do not fit 512 bytes: TC, and dig retries over TCP.
  const tc = await r.dig('+noedns', 'big.example.test', 'A');
  t.regex(tc, /Truncated, retrying in TCP mode/);
  t.is((tc.match(/IN\s+A\s+198\.51\.100\.\d+/g) ?? []).length, 60);
  t.regex(tc, /\(TCP\)/);
  const ignored = await r.dig('+noedns', '+ignore', 'big.example.test', 'A');
  t.regex(ignored, /flags: qr aa tc rd;/);
  // With EDNS (dig's default 1232 bytes) it fits over UDP; +tcp asks over TCP directly.
  const edns = await r.dig('big.example.test', 'A');
  t.notRegex(edns, / tc /);
  t.is((edns.match(/IN\s+A\s+198\.51\.100\.\d+/g) ?? []).length, 60);
  t.regex(edns, /OPT PSEUDOSECTION/);
  const tcp = await r.dig('+tcp', '+short', 'www.example.test', 'A');
  t.is(tcp.trim(), '192.0.2.80');
  t.true(r.server.stats.tcp >= 2);
  t.is(r.server.stats.malformed, 0);

  r.pcap.close();
  t.deepEqual(captureProblems(r.pcapPath), [], 'no malformed frames, no expert errors');
  t.true(tsharkLines(r.pcapPath, 'dns.flags.truncated == 1', 'frame.number').length > 0, 'a truncated DNS reply in the capture');
});
