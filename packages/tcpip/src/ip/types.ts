import type { Ipv4Address } from '../wire/ipv4-address';
import type { NetworkInterface } from '../iface/network-interface';

/** What IP tells a transport about a datagram it delivers. One object is reused: copy what you keep. */
export interface IpPacketInfo {
  src: Ipv4Address;
  dst: Ipv4Address;
  protocol: number;
  ttl: number;
  tos: number;
  /** Where it arrived. */
  iface: NetworkInterface;
  /** Sent to a broadcast address (limited or directed). */
  broadcast: boolean;
}

export type IcmpErrorKind =
  | 'net-unreachable' | 'host-unreachable' | 'protocol-unreachable' | 'port-unreachable' | 'fragmentation-needed'
  | 'prohibited' | 'unreachable' | 'time-exceeded' | 'reassembly-time-exceeded' | 'parameter-problem';

/**
 * An ICMP error about a datagram this host sent, or the same error raised
 * locally (`local: true`: ARP resolution failed, so "host unreachable").
 * The quote is only valid during the call.
 */
export interface IcmpErrorInfo {
  type: number;
  code: number;
  kind: IcmpErrorKind;
  /** Who reported it (our own address for local errors). */
  from: Ipv4Address;
  /** Next-hop MTU for 'fragmentation-needed' (already clamped to >= 68), else 0. */
  mtu: number;
  /** The quoted datagram's addresses and protocol. */
  src: Ipv4Address;
  dst: Ipv4Address;
  protocol: number;
  /** The quoted transport header and whatever payload follows: quote[quoteOffset, quoteOffset+quoteLength). */
  quote: Uint8Array;
  quoteOffset: number;
  quoteLength: number;
  local: boolean;
}

export interface TransportProtocol {
  /** 1 ICMP, 6 TCP, 17 UDP. */
  readonly protocol: number;
  /** A reassembled datagram whose checksum was verified (or vouched for by NIC offload). `payload` is only valid during the call. */
  receive(info: IpPacketInfo, payload: Uint8Array, offset: number, length: number): void;
  /** An ICMP error quoting a datagram this protocol sent. */
  receiveIcmpError?(error: IcmpErrorInfo): void;
  pollAt?(): number;
  poll?(now: number): void;
}

export interface PayloadWriter {
  /**
   * Writes `length` bytes of transport header + payload at buf[offset..]. src/dst are final (for pseudo-header
   * checksums), as int32 (`addr | 0`, so they are not boxed per datagram): the same bits, `>>> 0` gives the address. With `checksumOffloaded` true the NIC fills in the transport checksum, so the writer may leave it 0
   * (computing it anyway is harmless). It is false whenever the datagram will be fragmented.
   */
  writePayload(buf: Uint8Array, offset: number, length: number, src: Ipv4Address, dst: Ipv4Address, checksumOffloaded?: boolean): void;
  /**
   * Software GSO (`send` with `segmentSize` of a TCP payload the MTU does not take, on a NIC
   * without TSO): the transport header length each segment carries (the same for all)...
   */
  gsoHeaderLength?: number;
  /**
   * ...and the writer of one segment: its header (the sequence number moved on by `dataOffset`,
   * end-of-data flags only when `last`) and data bytes [dataOffset, dataOffset+dataLength) of the
   * payload, at buf[offset..]. Without both, such a payload is not cut ('too-big' under DF).
   */
  writeSegment?(buf: Uint8Array, offset: number, dataOffset: number, dataLength: number, last: boolean, src: Ipv4Address,
    dst: Ipv4Address, checksumOffloaded: boolean): void;
}

export type IpSendResult = 'sent' | 'queued' | 'no-route' | 'unreachable' | 'prohibited' | 'blackholed' | 'too-big' | 'down';

export interface IpSendOptions {
  dst: Ipv4Address;
  protocol: number;
  /** Source address; by default the outgoing interface's (0.0.0.0 on an unconfigured one). */
  src?: Ipv4Address;
  ttl?: number;
  tos?: number;
  dontFragment?: boolean;
  /** Send out of this device (SO_BINDTODEVICE): routes through other devices are not used. */
  iface?: string;
  /**
   * TCP segmentation offload: a TCP payload longer than the MTU allows goes whole to a NIC with
   * `tsoMaxBytes`, which cuts it into segments of this many data bytes (the connection's MSS);
   * on other NICs IP cuts it itself (software GSO) when the writer has `writeSegment`.
   */
  segmentSize?: number;
}

export interface RouteResult {
  iface: NetworkInterface;
  src: Ipv4Address;
  mtu: number;
  nextHop: Ipv4Address;
  /** Link-layer broadcast (a broadcast route or 255.255.255.255). */
  broadcast: boolean;
  /** Delivered to this host (through loopback). */
  local: boolean;
}
