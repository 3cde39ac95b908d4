/**
 * Ethernet II framing, with up to two 802.1Q / 802.1ad tags parsed (and
 * skipped) so tagged frames do not choke the receive path.
 */
import * as nic from '@pnet/nic';
import type { MacAddress } from '@pnet/nic';

// Read once: `@pnet/nic` re-exports through getters, and one getter call per frame showed in profiles.
const { readMac, writeMac } = nic;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;
export const ETHERNET_HEADER_LENGTH = 14;
/** Largest number of VLAN tags parsed; a frame with more is refused as 'too-many-tags'. */
export const MAX_VLAN_TAGS = 2;

/** A parsed Ethernet header; reuse one instance per receive path (parse fills it in, allocating nothing). */
export class EthernetHeader {
  dst = 0 as MacAddress;
  src = 0 as MacAddress;
  /** The EtherType after the tags (what the payload is). Values below 0x0600 are 802.3 lengths. */
  etherType = 0;
  /** The tag control information (PCP/DEI/VID) of each tag, outermost first. */
  readonly vlanTags: number[] = [];
  /** The TPID of each tag (0x8100 or 0x88a8), outermost first. */
  readonly vlanTpids: number[] = [];
  /** Bytes of header before the payload: 14 + 4 per tag. */
  headerLength = ETHERNET_HEADER_LENGTH;
}

export type EthernetParseError = 'truncated' | 'too-many-tags';

/** Parses the header of buf[offset, offset+length). Returns `out`, or the reason the frame is refused. */
export function parseEthernet(
  buf: Uint8Array, offset: number, length: number, out: EthernetHeader = new EthernetHeader(),
): EthernetHeader | EthernetParseError {
  if (length < ETHERNET_HEADER_LENGTH || offset + length > buf.length) return 'truncated';
  out.dst = readMac(buf, offset);
  out.src = readMac(buf, offset + 6);
  // Setting an array's length is a runtime call even when unchanged: untagged frames skip it.
  if (out.vlanTags.length !== 0) out.vlanTags.length = 0;
  if (out.vlanTpids.length !== 0) out.vlanTpids.length = 0;
  let p = offset + 12;
  let type = (buf[p] << 8) | buf[p + 1];
  while (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ) {
    if (out.vlanTags.length === MAX_VLAN_TAGS) return 'too-many-tags';
    if (p + 6 > offset + length) return 'truncated';
    out.vlanTpids.push(type);
    out.vlanTags.push((buf[p + 2] << 8) | buf[p + 3]);
    p += 4;
    type = (buf[p] << 8) | buf[p + 1];
  }
  out.etherType = type;
  out.headerLength = p + 2 - offset;
  return out;
}

export interface EthernetFields {
  dst: MacAddress;
  src: MacAddress;
  etherType: number;
  vlanTags?: readonly number[];
  vlanTpids?: readonly number[];
}

/** Bytes `writeEthernet` writes for these fields. */
export function ethernetHeaderLength(h: EthernetFields): number {
  return ETHERNET_HEADER_LENGTH + 4 * (h.vlanTags?.length ?? 0);
}

/** Writes the header at buf[offset..]; returns its length. */
export function writeEthernet(buf: Uint8Array, offset: number, h: EthernetFields): number {
  writeMac(buf, offset, h.dst);
  writeMac(buf, offset + 6, h.src);
  let p = offset + 12;
  const tags = h.vlanTags;
  if (tags) {
    for (let i = 0; i < tags.length; i++) {
      const tpid = h.vlanTpids?.[i] ?? ETHERTYPE_VLAN;
      buf[p] = tpid >>> 8; buf[p + 1] = tpid & 0xff;
      buf[p + 2] = (tags[i] >>> 8) & 0xff; buf[p + 3] = tags[i] & 0xff;
      p += 4;
    }
  }
  buf[p] = (h.etherType >>> 8) & 0xff;
  buf[p + 1] = h.etherType & 0xff;
  return p + 2 - offset;
}

/** The untagged fast path: 14 bytes, no object needed. */
export function writeEthernetSimple(buf: Uint8Array, offset: number, dst: MacAddress, src: MacAddress, etherType: number): number {
  writeMac(buf, offset, dst);
  writeMac(buf, offset + 6, src);
  buf[offset + 12] = etherType >>> 8;
  buf[offset + 13] = etherType & 0xff;
  return ETHERNET_HEADER_LENGTH;
}
