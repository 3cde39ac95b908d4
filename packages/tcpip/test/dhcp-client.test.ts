import test from 'ava';
import fc from 'fast-check';
import { localMac, MacAddress, Rng, VirtualClock } from '@pnet/nic';
import { DhcpClientMachine, DhcpClientOptions } from '../src/dhcp/client';
import { DhcpServer, DhcpServerOptions } from '../src/dhcp/server';
import { MemoryLan } from '../src/dhcp/memory-lan';
import type { DhcpInterfaceConfigurator, DhcpLease } from '../src/dhcp/transport';
import {
  BOOTP_REPLY, decodeDhcpMessage, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DhcpMessage, DhcpMessageType, dhcpMessage,
  encodeDhcpMessage,
} from '../src/wire/dhcp';
import { formatIpv4, IPV4_ANY, IPV4_BROADCAST, ipv4, Ipv4Address } from '../src/wire/ipv4-address';

const SERVER = ipv4(192, 0, 2, 1);

class FakeIface implements DhcpInterfaceConfigurator {
  address: Ipv4Address = IPV4_ANY;
  log: string[] = [];
  constructor(readonly mac: MacAddress) {}
  apply(lease: DhcpLease, previous: DhcpLease | null): void {
    this.address = lease.address;
    this.log.push(`${previous ? 'update' : 'apply'} ${formatIpv4(lease.address)}/${lease.prefix}`);
  }
  remove(lease: DhcpLease): void {
    this.address = IPV4_ANY;
    this.log.push(`remove ${formatIpv4(lease.address)}`);
  }
}

function world(serverOpts: Partial<DhcpServerOptions> = {}, clientOpts: Partial<DhcpClientOptions> = {}) {
  const clock = new VirtualClock();
  const lan = new MemoryLan(clock, 1);
  const server = new DhcpServer({
    clock, serverId: SERVER, pool: { start: ipv4(192, 0, 2, 100), end: ipv4(192, 0, 2, 199) }, netmask: 24,
    routers: [SERVER], dnsServers: [ipv4(192, 0, 2, 53), ipv4(192, 0, 2, 54)], domainName: 'example.test', leaseTime: 1000,
    ...serverOpts,
  });
  server.listen(lan.socket(() => SERVER, DHCP_SERVER_PORT));
  const iface = new FakeIface(localMac(1));
  const client = new DhcpClientMachine({
    clock, rng: new Rng(11), iface, socket: lan.socket(() => iface.address, DHCP_CLIENT_PORT), hostName: 'pnet', ...clientOpts,
  });
  const decoded = () => lan.sent.map((d) => {
    const m = decodeDhcpMessage(d.data);
    if (!m.ok) throw new Error(m.error);
    return { ...d, m: m.message, type: m.message.options.messageType };
  });
  const fromClient = () => decoded().filter((d) => d.src.port === DHCP_CLIENT_PORT);
  return { clock, lan, server, iface, client, decoded, fromClient };
}

test('DISCOVER, OFFER, REQUEST, ACK: the lease configures the interface', async (t) => {
  const w = world();
  const states: string[] = [];
  w.client.on('state', (s) => states.push(s));
  const lease = await w.clock.drive(w.client.start());
  t.is(formatIpv4(lease.address), '192.0.2.100');
  t.is(lease.prefix, 24);
  t.deepEqual(lease.routers, [SERVER]);
  t.deepEqual(lease.dnsServers.map(formatIpv4), ['192.0.2.53', '192.0.2.54']);
  t.is(lease.domainName, 'example.test');
  t.deepEqual([lease.leaseTime, lease.renewalTime, lease.rebindingTime], [1000, 500, 875]);
  t.is(lease.serverId, SERVER);
  t.deepEqual(w.iface.log, ['apply 192.0.2.100/24']);
  t.deepEqual(states, ['init', 'selecting', 'requesting', 'bound']);
  const msgs = w.decoded();
  t.deepEqual(msgs.map((d) => d.type), [DhcpMessageType.DISCOVER, DhcpMessageType.OFFER, DhcpMessageType.REQUEST, DhcpMessageType.ACK]);
  // Client messages: broadcast from 0.0.0.0 with the broadcast flag; REQUEST names the offer and the server; one xid.
  for (const d of msgs.filter((x) => x.src.port === DHCP_CLIENT_PORT)) {
    t.is(d.src.address, IPV4_ANY);
    t.is(d.dst.address, IPV4_BROADCAST);
    t.is(d.m.flags & 0x8000, 0x8000);
    t.is(d.m.chaddr, localMac(1));
    t.is(d.m.options.hostName, 'pnet');
  }
  t.is(msgs[2].m.options.requestedIp, lease.address);
  t.is(msgs[2].m.options.serverId, SERVER);
  t.is(new Set(msgs.map((d) => d.m.xid)).size, 1);
  t.is(w.server.leases()[0].state, 'bound');
});

test('renews at T1 by unicast to the server and stays bound', async (t) => {
  const w = world();
  const lease = await w.clock.drive(w.client.start());
  const renewed: DhcpLease[] = [];
  w.client.on('renewed', (l) => renewed.push(l));
  const t1 = lease.obtainedAt + 500_000;
  w.clock.runUntil(t1 - 1);
  t.is(w.fromClient().length, 2);
  w.clock.runUntil(t1 + 10);
  const req = w.fromClient()[2];
  t.is(req.type, DhcpMessageType.REQUEST);
  t.is(req.dst.address, SERVER);
  t.is(req.m.ciaddr, lease.address);
  t.is(req.m.options.serverId, undefined);
  t.is(req.m.options.requestedIp, undefined);
  t.is(renewed.length, 1);
  t.is(renewed[0].obtainedAt, t1);
  t.is(w.client.state, 'bound');
  t.deepEqual(w.iface.log, ['apply 192.0.2.100/24', 'update 192.0.2.100/24']);
  // And again at the new T1.
  w.clock.runUntil(t1 + 500_000 + 10);
  t.is(renewed.length, 2);
});

test('when the server does not answer renewals, it rebinds at T2 by broadcast', async (t) => {
  const w = world();
  const lease = await w.clock.drive(w.client.start());
  // Unicast to the server is lost; broadcasts still get through.
  w.lan.filter = (d) => !(d.dst.address === SERVER);
  w.clock.runUntil(lease.obtainedAt + 875_000 + 10);
  const reqs = w.fromClient().slice(2);
  const times = reqs.map((d) => d);
  t.true(times.length >= 2);
  t.true(reqs.slice(0, -1).every((d) => d.dst.address === SERVER));
  const last = reqs[reqs.length - 1];
  t.is(last.dst.address, IPV4_BROADCAST);
  t.is(last.m.ciaddr, lease.address);
  t.is(w.client.state, 'bound');
  t.is(w.client.stats.acks, 2);
});

test('renewal retransmits after half the time left to T2, at least 60 s, then rebinding, then expiry', async (t) => {
  const w = world();
  const lease = await w.clock.drive(w.client.start());
  const sendTimes: number[] = [];
  w.lan.filter = (d) => {
    if (d.src.port === DHCP_CLIENT_PORT) sendTimes.push(w.clock.now() - lease.obtainedAt);
    return false; // the server is gone
  };
  const expired: DhcpLease[] = [];
  w.client.on('expired', (l) => expired.push(l));
  w.clock.runUntil(lease.obtainedAt + 1_000_000 + 1);
  // T1 = 500 s, T2 = 875 s, expiry = 1000 s.
  // Renewing: 500, +max(60, 375/2) = 687.5, +max(60, 187.5/2) = 781.25, +max(60, 46.875) = 841.25,
  // then capped at T2 = 875 (rebinding). Rebinding: 875, +62.5 = 937.5, +max(60, 31.25) = 997.5,
  // then capped at expiry 1000: expire and start over.
  const renewals = sendTimes.filter((x) => x < 1_000_000).map((x) => x / 1000);
  t.deepEqual(renewals, [500, 687.5, 781.25, 841.25, 875, 937.5, 997.5]);
  t.is(expired.length, 1);
  t.deepEqual(w.iface.log, ['apply 192.0.2.100/24', 'remove 192.0.2.100']);
  t.is(w.client.lease, null);
  t.is(w.client.state, 'selecting');
  t.is(w.client.stats.expirations, 1);
});

test('lost OFFERs: DISCOVER is retransmitted with randomized exponential backoff (4 s, 8 s, 16 s +-1 s)', async (t) => {
  const w = world();
  let offersDropped = 0;
  w.lan.filter = (d) => !(d.src.port === DHCP_SERVER_PORT && offersDropped++ < 3);
  const lease = await w.clock.drive(w.client.start());
  t.truthy(lease);
  const discovers = w.fromClient().filter((d) => d.type === DhcpMessageType.DISCOVER);
  t.is(discovers.length, 4);
  const at = discovers.map((d) => d.m.secs);
  t.deepEqual(at.slice(0, 1), [0]);
  // Gaps, from the secs field (whole seconds since the start).
  const sendTimes: number[] = [];
  const w2 = world();
  let dropped = 0;
  w2.lan.filter = (d) => {
    if (d.src.port === DHCP_CLIENT_PORT) sendTimes.push(w2.clock.now());
    return !(d.src.port === DHCP_SERVER_PORT && dropped++ < 3);
  };
  await w2.clock.drive(w2.client.start());
  const gaps = sendTimes.slice(1, 4).map((x, i) => x - sendTimes[i]);
  t.true(gaps[0] >= 3000 && gaps[0] <= 5000, `gap ${gaps[0]}`);
  t.true(gaps[1] >= 7000 && gaps[1] <= 9000, `gap ${gaps[1]}`);
  t.true(gaps[2] >= 15000 && gaps[2] <= 17000, `gap ${gaps[2]}`);
  t.not(gaps[0], 4000); // randomized
});

test('a lost ACK: REQUEST is retransmitted, then DISCOVER starts over', async (t) => {
  const w = world({}, { maxRequestAttempts: 2 });
  let acksDropped = 0;
  w.lan.filter = (d) => {
    const m = decodeDhcpMessage(d.data);
    return !(m.ok && m.message.options.messageType === DhcpMessageType.ACK && acksDropped++ < 2);
  };
  await w.clock.drive(w.client.start());
  t.deepEqual(w.fromClient().map((d) => d.type), [
    DhcpMessageType.DISCOVER, DhcpMessageType.REQUEST, DhcpMessageType.REQUEST, DhcpMessageType.DISCOVER, DhcpMessageType.REQUEST,
  ]);
  t.is(w.client.state, 'bound');
});

function reply(req: DhcpMessage, type: 2 | 5 | 6, yiaddr: Ipv4Address, extra: Partial<DhcpMessage['options']> = {}): Uint8Array {
  return encodeDhcpMessage(dhcpMessage(BOOTP_REPLY, req.xid, req.chaddr, {
    messageType: type, serverId: SERVER, ...(type !== 6 ? { leaseTime: 100, subnetMask: ipv4(255, 255, 255, 0) } : {}), ...extra,
  }, { yiaddr }));
}

test('a NAK sends the client back to INIT after a randomized backoff', async (t) => {
  const clock = new VirtualClock();
  const lan = new MemoryLan(clock);
  const iface = new FakeIface(localMac(2));
  const server = lan.socket(() => SERVER, DHCP_SERVER_PORT);
  let naks = 0;
  const times: number[] = [];
  server.onMessage((data) => {
    const d = decodeDhcpMessage(data);
    if (!d.ok) return;
    const m = d.message;
    times.push(clock.now());
    if (m.options.messageType === DhcpMessageType.DISCOVER) server.send(reply(m, 2, ipv4(192, 0, 2, 7)), IPV4_BROADCAST, DHCP_CLIENT_PORT);
    if (m.options.messageType === DhcpMessageType.REQUEST) {
      server.send(naks++ < 2 ? reply(m, 6, IPV4_ANY, { message: 'no' }) : reply(m, 5, ipv4(192, 0, 2, 7)), IPV4_BROADCAST, DHCP_CLIENT_PORT);
    }
  });
  const client = new DhcpClientMachine({ clock, rng: new Rng(5), iface, socket: lan.socket(() => iface.address, DHCP_CLIENT_PORT) });
  const nakMessages: string[] = [];
  client.on('nak', (msg) => nakMessages.push(msg));
  const lease = await clock.drive(client.start());
  t.is(formatIpv4(lease.address), '192.0.2.7');
  t.deepEqual(nakMessages, ['no', 'no']);
  t.is(client.stats.naks, 2);
  // DISCOVER, REQUEST(nak), DISCOVER after ~1 s, REQUEST(nak), DISCOVER after ~2 s, REQUEST(ack).
  t.is(times.length, 6);
  const wait1 = times[2] - times[1];
  const wait2 = times[4] - times[3];
  t.true(wait1 >= 0 && wait1 <= 2002, `first NAK wait ${wait1}`);
  t.true(wait2 >= 1000 && wait2 <= 3002, `second NAK wait ${wait2}`);
});

test('a NAK on renewal removes the address and starts over', async (t) => {
  const w = world();
  const lease = await w.clock.drive(w.client.start());
  // The server forgets everything (restarted without its lease table) and NAKs the renewal.
  w.server.close();
  const fresh = new DhcpServer({ clock: w.clock, serverId: SERVER, pool: { start: ipv4(192, 0, 2, 150), end: ipv4(192, 0, 2, 160) }, netmask: 24 });
  fresh.listen(w.lan.socket(() => SERVER, DHCP_SERVER_PORT));
  w.clock.runUntil(lease.obtainedAt + 500_000 + 10_000);
  t.is(w.client.stats.naks, 1);
  t.is(fresh.stats.naks, 1);
  t.true(w.iface.log.includes('remove 192.0.2.100'));
  t.is(formatIpv4(w.client.lease!.address), '192.0.2.150');
  t.is(w.iface.log[w.iface.log.length - 1], 'apply 192.0.2.150/24');
});

test('stop() releases the lease to the server and removes the configuration', async (t) => {
  const w = world();
  const lease = await w.clock.drive(w.client.start());
  w.client.stop();
  const rel = w.fromClient().pop()!;
  t.is(rel.type, DhcpMessageType.RELEASE);
  t.is(rel.dst.address, SERVER);
  t.is(rel.m.ciaddr, lease.address);
  t.is(rel.m.options.serverId, SERVER);
  w.clock.runUntilIdle();
  t.deepEqual(w.server.leases(), []);
  t.is(w.server.stats.releases, 1);
  t.deepEqual(w.iface.log, ['apply 192.0.2.100/24', 'remove 192.0.2.100']);
  t.is(w.client.state, 'stopped');
  t.is(w.clock.nextEventTime(), Infinity); // no timers left
});

test('replies for another xid or hardware address, and garbage, are ignored', async (t) => {
  const w = world();
  w.lan.filter = (d) => {
    if (d.src.port !== DHCP_CLIENT_PORT) return true;
    const m = decodeDhcpMessage(d.data);
    if (m.ok && m.message.options.messageType === DhcpMessageType.DISCOVER) {
      const forged = (req: DhcpMessage) => ({ src: { address: ipv4(192, 0, 2, 66), port: DHCP_SERVER_PORT }, dst: { address: IPV4_BROADCAST, port: DHCP_CLIENT_PORT }, data: reply(req, 2, ipv4(192, 0, 2, 66)) });
      w.lan.inject(forged({ ...m.message, xid: (m.message.xid + 1) >>> 0 }));
      w.lan.inject(forged({ ...m.message, chaddr: localMac(99) }));
      w.lan.inject({ src: { address: ipv4(192, 0, 2, 66), port: DHCP_SERVER_PORT }, dst: { address: IPV4_BROADCAST, port: DHCP_CLIENT_PORT }, data: new Uint8Array(100) });
    }
    return true;
  };
  const lease = await w.clock.drive(w.client.start());
  t.is(formatIpv4(lease.address), '192.0.2.100');
  t.is(w.client.stats.ignored, 2);
  t.is(w.client.stats.malformed, 1);
});

test('start() with a timeout rejects and stops when no server answers', async (t) => {
  const w = world();
  w.server.close();
  await t.throwsAsync(w.clock.drive(w.client.start({ timeout: 30_000 })), { message: /no lease within 30000 ms/ });
  t.is(w.client.state, 'stopped');
  t.true(w.client.stats.discovers >= 3);
});

test('two clients get different addresses; an exhausted pool makes no offer', async (t) => {
  const w = world({ pool: { start: ipv4(192, 0, 2, 100), end: ipv4(192, 0, 2, 100) } });
  const iface2 = new FakeIface(localMac(2));
  const c2 = new DhcpClientMachine({ clock: w.clock, rng: new Rng(12), iface: iface2, socket: w.lan.socket(() => iface2.address, DHCP_CLIENT_PORT) });
  const l1 = await w.clock.drive(w.client.start());
  t.is(formatIpv4(l1.address), '192.0.2.100');
  await t.throwsAsync(w.clock.drive(c2.start({ timeout: 20_000 })));
  t.true(w.server.stats.poolExhausted > 0);
  w.client.stop();
  const l2 = await w.clock.drive(c2.start());
  t.is(formatIpv4(l2.address), '192.0.2.100');
});

test('INIT-REBOOT: a remembered address is asked for directly and kept', async (t) => {
  const w = world({}, { requestedIp: ipv4(192, 0, 2, 120), initReboot: true });
  const states: string[] = [];
  w.client.on('state', (s) => states.push(s));
  const lease = await w.clock.drive(w.client.start());
  t.is(formatIpv4(lease.address), '192.0.2.120');
  t.deepEqual(states, ['init', 'rebooting', 'bound']);
  const sent = w.fromClient();
  t.is(sent.length, 1);
  t.is(sent[0].type, DhcpMessageType.REQUEST);
  t.is(sent[0].dst.address, IPV4_BROADCAST);
  t.is(sent[0].m.ciaddr, IPV4_ANY);
  t.is(sent[0].m.options.requestedIp, ipv4(192, 0, 2, 120));
  t.is(sent[0].m.options.serverId, undefined);
  t.is(lease.serverId, SERVER);
});

test('INIT-REBOOT: a NAK (address from another network) falls back to DISCOVER', async (t) => {
  const w = world({}, { requestedIp: ipv4(198, 51, 100, 20), initReboot: true });
  const lease = await w.clock.drive(w.client.start());
  t.is(formatIpv4(lease.address), '192.0.2.100');
  t.deepEqual(w.fromClient().map((d) => d.type), [
    DhcpMessageType.REQUEST, DhcpMessageType.DISCOVER, DhcpMessageType.REQUEST,
  ]);
  t.is(w.client.stats.naks, 1);
});

test('INIT-REBOOT: silence falls back to DISCOVER after the REQUEST retransmissions', async (t) => {
  const w = world({}, { requestedIp: ipv4(192, 0, 2, 120), initReboot: true, maxRequestAttempts: 2 });
  // The server ignores INIT-REBOOT requests (as RFC 2131 lets a server without a record do).
  w.lan.filter = (d) => {
    const m = decodeDhcpMessage(d.data);
    return !(m.ok && m.message.options.messageType === DhcpMessageType.REQUEST && m.message.options.serverId === undefined && m.message.ciaddr === IPV4_ANY);
  };
  const lease = await w.clock.drive(w.client.start());
  t.deepEqual(w.fromClient().map((d) => d.type), [
    DhcpMessageType.REQUEST, DhcpMessageType.REQUEST, DhcpMessageType.DISCOVER, DhcpMessageType.REQUEST,
  ]);
  // DISCOVER carries the remembered address as a hint, so the server still offers it.
  t.is(formatIpv4(lease.address), '192.0.2.120');
});

test('corrupted server replies never throw out of the client; it gets a lease once they stop', async (t) => {
  await fc.assert(fc.asyncProperty(
    fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 8 }), fc.nat({ max: 5 }), async (edits, badReplies) => {
      const w = world();
      let n = 0;
      w.lan.filter = (d) => {
        if (d.src.port !== DHCP_SERVER_PORT || n++ >= badReplies) return true;
        const data = d.data.slice();
        for (const [i, v] of edits) data[i % data.length] = v;
        return { ...d, data };
      };
      const lease = await w.clock.drive(w.client.start());
      if (lease.address === IPV4_ANY) throw new Error('no address');
      w.client.close();
    }), { numRuns: 60 });
  t.pass();
});

test('a lease shorter than 20 s is stretched to 20 s (no DORA spinning with a broken server)', async (t) => {
  const w = world({ leaseTime: 8, renewalTime: 4, rebindingTime: 7 });
  const lease = await w.clock.drive(w.client.start());
  t.deepEqual([lease.leaseTime, lease.renewalTime, lease.rebindingTime], [20, 4, 7]);
  w.clock.runUntil(lease.obtainedAt + 3_999);
  t.is(w.fromClient().length, 2);
  w.clock.runUntil(lease.obtainedAt + 4_100);
  t.is(w.fromClient().length, 3); // the renewal at T1 = 4 s
  t.is(w.client.state, 'bound');
});

test('with a probing interface, an address in use is DECLINEd and the client starts over after 10 s', async (t) => {
  const w = world();
  let probes = 0;
  (w.iface as FakeIface & { probe?: (a: Ipv4Address) => Promise<boolean> }).probe = (a) => {
    probes++;
    // The first address is taken; answer after a virtual second.
    return new Promise((res) => w.clock.schedule(w.clock.now() + 1000, () => res(a === ipv4(192, 0, 2, 100))));
  };
  const lease = await w.clock.drive(w.client.start());
  t.is(formatIpv4(lease.address), '192.0.2.101');
  t.is(probes, 2);
  const sent = w.fromClient();
  t.deepEqual(sent.map((d) => d.type), [
    DhcpMessageType.DISCOVER, DhcpMessageType.REQUEST, DhcpMessageType.DECLINE, DhcpMessageType.DISCOVER, DhcpMessageType.REQUEST,
  ]);
  const decline = sent[2];
  t.is(decline.dst.address, IPV4_BROADCAST);
  t.is(decline.m.options.requestedIp, ipv4(192, 0, 2, 100));
  t.is(decline.m.options.serverId, SERVER);
  t.is(decline.m.ciaddr, IPV4_ANY);
  t.true(sent[3].at! - sent[2].at! >= 10_000);
  t.deepEqual(w.iface.log, ['apply 192.0.2.101/24']); // the taken address was never configured
});

