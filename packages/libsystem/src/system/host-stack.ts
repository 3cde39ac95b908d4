/**
 * A host: the pnet Stack on one NIC, configured by DHCP or by hand, with
 * DNS, and the backends the facade runs over (TCP and TLS through the
 * StreamTransport, HTTP and WebSocket through @pnet/http, UDP sockets, the
 * Stack's configuration). Used for a TAP device and, by the embedded
 * world, for a simulated NIC.
 */
import type { Clock, Nic, Rng } from '@pnet/nic';
import { attachDns, DhcpClient, type DhcpLease, parseIpv4, Stack } from '@pnet/tcpip';
import { stackTransport, type TransportOptions } from '@pnet/tls';
import type { NetworkBackends } from '../backends/backends';
import { streamBackends } from '../backends/pnet-http';
import { stackControl, stackDatagrams } from '../backends/pnet-stack';

export interface HostStackOptions {
  nic: Nic;
  clock: Clock;
  rng: Rng;
  /** `dhcp`, or a static address and prefix length. */
  address: 'dhcp' | { ip: string; prefix: number };
  /** Default gateway (with a static address; DHCP brings its own). */
  gateway?: string;
  /** DNS servers (DHCP's are used when none are given). */
  dns?: string[];
  /** Static names for the resolver, e.g. `{ 'example.test': '192.0.2.80' }`. */
  hosts?: Record<string, string | string[]>;
  /** How long to wait for a DHCP lease, ms (default 30 000). */
  dhcpTimeout?: number;
  /** TLS settings of the transport (e.g. `ca`: the CAs trusted for https and wss). */
  transport?: TransportOptions;
  /** Name of the stack in logs and pcaps (default `pnet`). */
  name?: string;
}

export interface HostStack {
  stack: Stack;
  backends: NetworkBackends;
  /** The DHCP lease, when the address came from DHCP. */
  lease: DhcpLease | null;
  /** Stops DHCP (releasing the lease), the transport's clients and the Stack. The NIC stays open. */
  close(): Promise<void>;
}

export async function startHostStack(o: HostStackOptions): Promise<HostStack> {
  const stack = new Stack({ clock: o.clock, rng: o.rng, name: o.name ?? 'pnet' });
  stack.addInterface(o.nic, { name: 'eth0' });
  stack.start();
  // Four rounds (2 + 4 + 8 + 16 s at most) rather than the resolver's two: a host on a lossy
  // link should not fail a name lookup because two datagrams in a row were lost.
  const resolver = attachDns(stack, {
    servers: (o.dns ?? []).map(parseIpv4),
    attempts: 4,
    ...(o.hosts ? { hosts: o.hosts } : {}),
  });
  let dhcp: DhcpClient | null = null;
  let lease: DhcpLease | null = null;
  try {
    if (o.address === 'dhcp') {
      dhcp = new DhcpClient(stack, 'eth0');
      lease = await dhcp.start({ timeout: o.dhcpTimeout ?? 30_000 });
      // Servers given by hand win over the lease's.
      if (o.dns && o.dns.length > 0) resolver.setServers(o.dns.map(parseIpv4));
    } else {
      stack.ipconfig('eth0', { ip: o.address.ip, netmask: o.address.prefix, up: true });
      if (o.gateway) stack.routes.add({ table: 0, source: '0.0.0.0', sourceNetmask: 0, action: 'unicast', device: 'eth0', destination: o.gateway });
    }
  } catch (err) {
    await dhcp?.stop().catch(() => undefined);
    stack.close();
    throw err;
  }
  const stream = streamBackends(stackTransport(stack, o.transport ?? {}), { clock: o.clock });
  const backends: NetworkBackends = {
    ...stream,
    stack: stackControl(stack),
    datagrams: stackDatagrams(stack),
  };
  delete backends.close;
  return {
    stack,
    backends,
    lease,
    async close() {
      stream.close();
      await dhcp?.stop({ release: true }).catch(() => undefined);
      stack.close();
    },
  };
}
