/**
 * DHCP over the Stack: `new DhcpClient(stack, 'eth0')` binds UDP port 68 to
 * the device and applies leases with `stack.ipconfig`, a default route in
 * table 0 via the first router, and the DNS servers of `stack.dns` (when a
 * resolver is attached; servers set by hand after that are left alone). `serveDhcp` runs a DhcpServer on port 67 of a device.
 */
import type { Stack } from '../iface/stack';
import type { Route } from '../ip/routing';
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT } from '../wire/dhcp';
import { IPV4_ANY, Ipv4Address } from '../wire/ipv4-address';
import { DhcpClientMachine, DhcpClientOptions } from './client';
import { DhcpServer } from './server';
import type { DhcpInterfaceConfigurator, DhcpLease, DhcpSocket } from './transport';

/** A DHCP socket: a UDP socket bound to `port` on `device`. */
export function stackDhcpSocket(stack: Stack, device: string, port: number): DhcpSocket {
  const sock = stack.udp.bind({ port, iface: device });
  return {
    send(data, address, dport) {
      const r = sock.send(data, dport, address);
      if (r !== 'sent' && r !== 'queued') throw new Error(`DHCP: UDP send failed: ${r}`);
    },
    onMessage(l) {
      sock.on('message', (data, rinfo) => l(data, { address: rinfo.address, port: rinfo.port }));
    },
    close() { sock.close(); },
  };
}

interface ResolverLike {
  readonly servers: readonly Ipv4Address[];
  setServers(s: readonly Ipv4Address[]): void;
}

/** Applies leases to one device of a stack. */
export class StackInterfaceConfigurator implements DhcpInterfaceConfigurator {
  private route: Route | null = null;
  private dnsBefore: readonly Ipv4Address[] | null = null;
  /** The servers we gave the resolver last (to tell whether someone changed them since). */
  private dnsSet: readonly Ipv4Address[] | null = null;

  /**
   * `probeWait`: ms to wait for an answer to the ARP probe for a new address
   * (0: no probe).
   */
  constructor(private readonly stack: Stack, private readonly device: string, private readonly probeWait = 1000) {
    if (!stack.interface(device)) throw new Error(`DHCP: no such device: ${device}`);
  }

  get mac(): DhcpInterfaceConfigurator['mac'] {
    return this.stack.interface(this.device)!.mac;
  }

  apply(lease: DhcpLease, previous: DhcpLease | null): void {
    const s = this.stack;
    const cur = s.ipconfig(this.device);
    if (!previous || !cur || cur.ip !== lease.address || cur.netmask !== lease.prefix) {
      s.ipconfig(this.device, { ip: lease.address, netmask: lease.prefix, up: true });
    }
    this.removeRoute();
    const gw = lease.routers[0];
    if (gw !== undefined && gw !== IPV4_ANY) {
      try {
        this.route = s.routes.add({ table: 0, source: IPV4_ANY, sourceNetmask: 0, action: 'unicast', device: this.device, destination: gw });
      } catch {
        // A default route already exists in table 0 (set by hand): it stays.
      }
    }
    const dns = this.resolver();
    if (dns && lease.dnsServers.length > 0) {
      // Servers set by hand after our last change win: leave them alone.
      if (this.dnsSet !== null && !sameList(dns.servers, this.dnsSet)) return;
      if (this.dnsBefore === null) this.dnsBefore = dns.servers.slice();
      dns.setServers(lease.dnsServers);
      this.dnsSet = lease.dnsServers.slice();
    }
  }

  /**
   * RFC 2131 4.4.1 / RFC 5227: an ARP request for the address from 0.0.0.0
   * (the interface has no address yet); any answer within `probeWait` means
   * someone has it.
   */
  probe(address: Ipv4Address): Promise<boolean> {
    const s = this.stack;
    const iface = s.interface(this.device);
    if (!iface || this.probeWait <= 0 || iface.ip !== IPV4_ANY) return Promise.resolve(false);
    const known = s.arp.resolve(iface, address);
    if (known !== -1) return Promise.resolve(known !== iface.mac);
    return new Promise((resolve) => {
      s.clock.schedule(s.clock.now() + this.probeWait, () => {
        const e = s.arp.list(this.device)?.find((x) => x.ip === address);
        resolve(e !== undefined && e.mac !== null && e.mac !== iface.mac);
      });
    });
  }

  remove(_lease: DhcpLease): void {
    this.removeRoute();
    this.stack.ipconfig(this.device, { ip: IPV4_ANY });
    const dns = this.resolver();
    if (dns && this.dnsBefore !== null && this.dnsSet !== null && sameList(dns.servers, this.dnsSet)) dns.setServers(this.dnsBefore);
    this.dnsBefore = null;
    this.dnsSet = null;
  }

  private removeRoute(): void {
    const r = this.route;
    if (r) this.stack.routes.removeWhere((x) => x === r);
    this.route = null;
  }

  private resolver(): ResolverLike | null {
    const d = (this.stack as { dns?: unknown }).dns as ResolverLike | undefined;
    return d && typeof d.setServers === 'function' ? d : null;
  }
}

/** A DHCP client for one device of a stack (clock and Rng from the stack). */
export class DhcpClient extends DhcpClientMachine {
  /** `probeWait`: ms to wait for an answer to the ARP probe of a new address (1000; 0: no probe). */
  constructor(stack: Stack, device: string,
    options: Partial<Omit<DhcpClientOptions, 'clock' | 'rng' | 'socket' | 'iface'>> & { probeWait?: number } = {}) {
    const { probeWait, ...rest } = options;
    const iface = new StackInterfaceConfigurator(stack, device, probeWait ?? 1000);
    // The RELEASE is unicast and may wait for ARP: keep the address a moment after it.
    super({
      clock: stack.clock, rng: stack.rng, socket: stackDhcpSocket(stack, device, DHCP_CLIENT_PORT), iface, releaseLinger: 1000,
      counters: stack.stats.get('dhcp'),
      ...rest,
    });
  }
}

/** Runs `server` on port 67 of `device`. */
export function serveDhcp(stack: Stack, device: string, server: DhcpServer): DhcpServer {
  server.counters ??= stack.stats.get('dhcp');
  server.listen(stackDhcpSocket(stack, device, DHCP_SERVER_PORT));
  return server;
}

function sameList(a: readonly Ipv4Address[], b: readonly Ipv4Address[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
