// Wire formats (pure parsers/serializers on views).
export * from './wire/ipv4-address';
export * from './wire/checksum';
export * from './wire/ethernet';
export * from './wire/arp';
export * from './wire/ipv4';
export * from './wire/icmp';
export * from './wire/udp';
// The stack.
export * from './stats';
export { Stack } from './iface/stack';
export type { StackOptions, IpconfigInfo, IpconfigResult, Pollable } from './iface/stack';
export { NetworkInterface } from './iface/network-interface';
export { LoopbackNic } from './iface/loopback-nic';
export { ArpCache, DEFAULT_ARP_TIMINGS } from './iface/arp-cache';
export type { ArpTimings, ArpEntryInfo, NeighborState } from './iface/arp-cache';
export { RoutingTables, toIpv4, toPrefix } from './ip/routing';
export type { Route, RouteSpec, RouteAction } from './ip/routing';
export { Ipv4Layer } from './ip/ipv4-layer';
export { Reassembler, DEFAULT_REASSEMBLY_LIMITS } from './ip/reassembly';
export type { ReassemblyLimits, ReassemblyResult } from './ip/reassembly';
export type {
  IpPacketInfo, IcmpErrorInfo, IcmpErrorKind, TransportProtocol, PayloadWriter, IpSendResult, IpSendOptions, RouteResult,
} from './ip/types';
export { IcmpLayer } from './icmp/icmp-layer';
export type { PingOptions, PingResult, IcmpEvent, IcmpRateLimit } from './icmp/icmp-layer';
export { UdpLayer, UdpSocket, EPHEMERAL_LOW, EPHEMERAL_HIGH, MAX_UDP_PAYLOAD } from './udp/udp-layer';
export type { UdpBindOptions, UdpRemoteInfo, UdpIcmpError } from './udp/udp-layer';
export * from './wire/dns';
export * from './wire/dhcp';
export * from './dns/transport';
export * from './dns/resolver';
export * from './dns/server';
export * from './dns/memory-transport';
export * from './dns/stack-dns';
export * from './dhcp/transport';
export * from './dhcp/client';
export * from './dhcp/server';
export * from './dhcp/memory-lan';
export * from './dhcp/stack-dhcp';
export * from './wire/tcp'; export * from './tcp'; // TCP: wire codec, TcpLayer, TcpSocket/TcpServer
