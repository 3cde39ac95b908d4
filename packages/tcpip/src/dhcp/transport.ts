/**
 * What the DHCP client and server need from below. Over the Stack these are
 * UDP sockets bound to a device (ports 68 / 67); tests use `MemoryLan`.
 */
import type { MacAddress } from '@pnet/nic';
import type { Ipv4Address } from '../wire/ipv4-address';

export interface DhcpPeer {
  address: Ipv4Address;
  port: number;
}

/** A UDP endpoint on one link: the client's port 68 or the server's port 67. */
export interface DhcpSocket {
  /** Sends to `address:port`; 255.255.255.255 is the link broadcast. */
  send(data: Uint8Array, address: Ipv4Address, port: number): void;
  onMessage(listener: (data: Uint8Array, from: DhcpPeer) => void): void;
  close(): void;
}

/** A leased configuration. */
export interface DhcpLease {
  address: Ipv4Address;
  /** Prefix length from the subnet mask option (or the class default when absent). */
  prefix: number;
  netmask: Ipv4Address;
  routers: Ipv4Address[];
  dnsServers: Ipv4Address[];
  domainName?: string;
  serverId: Ipv4Address;
  /** Seconds (0xffffffff: infinite). */
  leaseTime: number;
  renewalTime: number;
  rebindingTime: number;
  /** Clock time (ms) the lease was granted or last extended. */
  obtainedAt: number;
}

/** Applies a lease to an interface: address, netmask, default route, DNS servers. */
export interface DhcpInterfaceConfigurator {
  readonly mac: MacAddress;
  apply(lease: DhcpLease, previous: DhcpLease | null): void;
  /** Undoes `apply` (the lease expired, was refused or released). */
  remove(lease: DhcpLease): void;
  /**
   * Optional conflict check before a new address is used (RFC 2131 4.4.1, an
   * ARP probe): resolves true when another host already has `address`.
   */
  probe?(address: Ipv4Address): Promise<boolean>;
}
