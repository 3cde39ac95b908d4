/** ARP for IPv4 over Ethernet (RFC 826). Other hardware/protocol pairs are refused as 'unsupported'. */
import { MacAddress, readMac, writeMac } from '@pnet/nic';
import { Ipv4Address, readIpv4, writeIpv4 } from './ipv4-address';

export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;
export const ARP_PACKET_LENGTH = 28;

export class ArpPacket {
  operation = 0;
  senderMac = 0 as MacAddress;
  senderIp = 0 as Ipv4Address;
  targetMac = 0 as MacAddress;
  targetIp = 0 as Ipv4Address;
}

export type ArpParseError = 'truncated' | 'unsupported';

export function parseArp(
  buf: Uint8Array, offset: number, length: number, out: ArpPacket = new ArpPacket(),
): ArpPacket | ArpParseError {
  if (length < ARP_PACKET_LENGTH || offset + length > buf.length) return 'truncated';
  const htype = (buf[offset] << 8) | buf[offset + 1];
  const ptype = (buf[offset + 2] << 8) | buf[offset + 3];
  if (htype !== 1 || ptype !== 0x0800 || buf[offset + 4] !== 6 || buf[offset + 5] !== 4) return 'unsupported';
  out.operation = (buf[offset + 6] << 8) | buf[offset + 7];
  out.senderMac = readMac(buf, offset + 8);
  out.senderIp = readIpv4(buf, offset + 14);
  out.targetMac = readMac(buf, offset + 18);
  out.targetIp = readIpv4(buf, offset + 24);
  return out;
}

export interface ArpFields {
  operation: number;
  senderMac: MacAddress;
  senderIp: Ipv4Address;
  targetMac: MacAddress;
  targetIp: Ipv4Address;
}

/** Writes a 28-byte Ethernet/IPv4 ARP packet; returns 28. */
export function writeArp(buf: Uint8Array, offset: number, p: ArpFields): number {
  buf[offset] = 0; buf[offset + 1] = 1;
  buf[offset + 2] = 0x08; buf[offset + 3] = 0;
  buf[offset + 4] = 6; buf[offset + 5] = 4;
  buf[offset + 6] = (p.operation >>> 8) & 0xff; buf[offset + 7] = p.operation & 0xff;
  writeMac(buf, offset + 8, p.senderMac);
  writeIpv4(buf, offset + 14, p.senderIp);
  writeMac(buf, offset + 18, p.targetMac);
  writeIpv4(buf, offset + 24, p.targetIp);
  return ARP_PACKET_LENGTH;
}
