/**
 * TCP through the whole Stack at the frame level, with the IPv4 engineer's segment-level test
 * language (FrameScript, src/testing): crafted Ethernet/IPv4/TCP frames in, exact frames out.
 */
import test from 'ava';
import { localMac } from '@pnet/nic';
import { FrameScript } from '../src/testing/frame-script';
import { ethernet, ipv4 } from '../src/testing/frames';
import { registerDescriber } from '../src/testing/describe';
import { parseIpv4 } from '../src/wire/ipv4-address';
import {
  TCP_PROTOCOL, TcpOptionSet, TcpSegmentView, formatTcpFlags, parseTcp, tcpChecksum, tcpOptionsLength, writeTcpChecksum,
  writeTcpHeaderRaw, writeTcpOptions,
} from '../src/wire/tcp';
import { parseFlags } from './tcp-harness';

const US = localMac(0x10);
const PEER = localMac(0x20);
const US_IP = '192.0.2.1';
const PEER_IP = '192.0.2.2';

registerDescriber(TCP_PROTOCOL, (buf, offset, length) => {
  const v = new TcpSegmentView();
  const err = parseTcp(buf, offset, length, v);
  if (err) return `TCP (${err})`;
  return `TCP ${v.srcPort} > ${v.dstPort} [${formatTcpFlags(v.flags)}] seq=${v.seq} ack=${v.ack} win=${v.window} len=${v.payloadLength}` +
    (v.mss >= 0 ? ` mss=${v.mss}` : '');
});

function tcpFrame(spec: { flags: string; seq: number; ack?: number; srcPort?: number; dstPort: number; win?: number; mss?: number;
  data?: string; badChecksum?: boolean }): Uint8Array {
  const o = new TcpOptionSet();
  if (spec.mss) o.mss = spec.mss;
  const ol = tcpOptionsLength(o);
  const data = Buffer.from(spec.data ?? '', 'latin1');
  const seg = new Uint8Array(20 + ol + data.length);
  writeTcpHeaderRaw(seg, 0, spec.srcPort ?? 40000, spec.dstPort, spec.seq, spec.ack ?? 0, parseFlags(spec.flags), spec.win ?? 65535, ol);
  writeTcpOptions(seg, 20, o);
  seg.set(data, 20 + ol);
  writeTcpChecksum(seg, 0, seg.length, parseIpv4(PEER_IP), parseIpv4(US_IP));
  if (spec.badChecksum) seg[16] ^= 0x55;
  return ethernet({ dst: US, src: PEER }, ipv4({ src: PEER_IP, dst: US_IP, protocol: TCP_PROTOCOL }, seg));
}

/** The TCP segment of a frame the stack sent (checksum verified). */
function tcpOf(frame: Uint8Array): TcpSegmentView & { flagText: string } {
  const ihl = (frame[14] & 0x0f) * 4;
  const off = 14 + ihl;
  const len = ((frame[16] << 8) | frame[17]) - ihl;
  if (tcpChecksum(frame, off, len, parseIpv4(US_IP), parseIpv4(PEER_IP)) !== 0) throw new Error('bad TCP checksum');
  const v = new TcpSegmentView();
  const err = parseTcp(frame, off, len, v);
  if (err) throw new Error(err);
  return Object.assign(v, { flagText: formatTcpFlags(v.flags) });
}

function script(offload = false) {
  const cs = { tx: offload, rx: offload };
  const s = FrameScript.create({
    interfaces: [{ mac: US, ip: US_IP, prefix: 24, capabilities: offload ? { checksum: { ipv4: { tx: false, rx: false }, tcp: cs, udp: cs, icmp: cs } } : undefined }],
  });
  s.stack.arp.set('eth0', PEER_IP, PEER); // no ARP exchange in these scripts
  return s;
}

test('a SYN frame to a listening port gets a SYN-ACK frame; the handshake completes through the stack', (t) => {
  const s = script();
  const l = s.stack.tcp.openListener({ port: 80 });
  s.send(tcpFrame({ flags: 'S', seq: 1000, dstPort: 80, mss: 1460 }));
  const f = s.recv({ eth: { dst: PEER, src: US }, ipv4: { src: US_IP, dst: PEER_IP, protocol: TCP_PROTOCOL, dontFragment: true } });
  const sa = tcpOf(f);
  t.is(sa.flagText, 'S.');
  t.is(sa.ack, 1001);
  t.is(sa.mss, 1460);
  t.is(sa.srcPort, 80);
  s.send(tcpFrame({ flags: 'P.', seq: 1001, ack: (sa.seq + 1) >>> 0, dstPort: 80, data: 'GET /' }));
  const c = l.accept()!;
  t.is(c.state, 'ESTABLISHED');
  t.is(c.readBuffer()!.toString(), 'GET /');
  s.recvNothing(); // the read opens no window worth a segment of its own (the SYN's window edge is kept)
  s.advance(40);
  const delayed = tcpOf(s.recv({ ipv4: { protocol: TCP_PROTOCOL } }));
  t.is(delayed.flagText, '.', 'the script ran the delayed-ACK timer');
  t.is(delayed.ack, 1006);
  c.write(Buffer.from('200 OK'));
  const reply = tcpOf(s.recv({ ipv4: { protocol: TCP_PROTOCOL } }));
  t.is(reply.flagText, 'P.');
  t.is(reply.payloadLength, 6);
  s.recvNothing();
});

test('a SYN frame to a closed port gets an RST frame; a corrupted segment is dropped by IP', (t) => {
  const s = script();
  s.send(tcpFrame({ flags: 'S', seq: 5, dstPort: 81 }));
  const r = tcpOf(s.recv({ ipv4: { protocol: TCP_PROTOCOL } }));
  t.is(r.flagText, 'R.');
  t.is(r.ack, 6);
  s.send(tcpFrame({ flags: 'S', seq: 5, dstPort: 81, badChecksum: true }));
  s.recvNothing();
  const st = s.stack.stats.get('tcp');
  t.is(st.drops['no-connection'], 1, 'TCP mirrors its drops into stack.stats');
  t.is(st.errors['bad-checksum'], 1, 'counted by IP');
  t.is(st.rx, 1);
  t.is(st.tx, 1);
});

test('with TCP transmit checksum offload the stack leaves the checksum to the NIC', (t) => {
  const s = script(true);
  s.stack.tcp.openListener({ port: 80 });
  s.send(tcpFrame({ flags: 'S', seq: 1, dstPort: 80 }));
  const f = s.recv({ ipv4: { protocol: TCP_PROTOCOL } });
  const ihl = (f[14] & 0x0f) * 4;
  t.is((f[14 + ihl + 16] << 8) | f[14 + ihl + 17], 0);
});
