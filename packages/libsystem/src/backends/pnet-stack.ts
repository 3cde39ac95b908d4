/**
 * Backends from the pnet Stack (@pnet/tcpip): interface, route, ARP and ICMP
 * control for `ipconfig`, `route`, `arp`, `control`; UDP sockets for `udp://`.
 */
import { EventEmitter } from 'node:events';
import { formatMac } from '@pnet/nic';
import { formatIpv4, ICMP_ECHO_REPLY, Ipv4Address, Stack, tryParseIpv4, UdpSocket } from '@pnet/tcpip';
import type { DatagramBackend, DatagramInfo, DatagramSocket, StackControl, StackRoute } from './backends';

function plainError(message: string, code?: string): Error {
  return Object.assign(new Error(message), code ? { code } : {});
}

/** The Stack's configuration calls in the facade's shapes (dotted addresses, prefix lengths). */
export function stackControl(stack: Stack): StackControl {
  return {
    ipconfig(device, info) {
      const r = stack.ipconfig(device, info);
      return r === null ? null : { ip: formatIpv4(r.ip), netmask: r.netmask, up: r.up };
    },
    routeList(table) {
      const list = stack.routes.list(table);
      if (list === null) return null;
      return list.map((r) => {
        const out: StackRoute = { table: r.table, source: formatIpv4(r.source), sourceNetmask: r.sourceNetmask, action: r.action };
        if (r.device !== undefined) out.device = r.device;
        if (r.destination !== undefined) out.destination = formatIpv4(r.destination);
        return out;
      });
    },
    routeAdd(route) {
      if (route.device !== undefined && !stack.interface(route.device)) throw new Error('No such device');
      stack.routes.add(route);
    },
    routeRemove(source, prefix, table) {
      try {
        stack.routes.remove(source, prefix, table);
        return true;
      } catch (e) {
        if ((e as Error).message === 'Route does not exist') return false;
        throw e;
      }
    },
    arpList(device) {
      const entries = stack.arp.list(device);
      if (entries === null) throw new Error('No such device');
      return entries.filter((e) => e.mac !== null).map((e) => ({ ip: formatIpv4(e.ip), mac: formatMac(e.mac!) }));
    },
    arpSet(device, ip, mac) {
      if (!stack.interface(device)) throw new Error('No such device');
      stack.arp.set(device, ip, mac);
    },
    async ping(ip) {
      try {
        const r = await stack.icmp.ping(ip);
        return { rtt: r.rtt };
      } catch (e) {
        const err = e as Error & { kind?: string };
        const text = err.message.replace(/^ping: /, '');
        throw plainError(text, err.kind === 'timeout' ? 'ETIMEDOUT' : undefined);
      }
    },
    sendControl(ip, type) {
      if (type !== 'pong') throw new Error(`Control messages of type ${type} quote a packet and cannot be sent on their own`);
      const addr = tryParseIpv4(ip)!;
      stack.icmp.sendEcho(addr, 0, 0, new Uint8Array(0), ICMP_ECHO_REPLY);
    },
    onControl(listener) {
      // Replies to our own pings are reported by `ping` itself.
      return stack.icmp.onEvent((e) => {
        if (e.type !== 'pong') listener({ type: e.type, from: formatIpv4(e.from) });
      });
    },
  };
}

class StackDatagramSocket extends EventEmitter implements DatagramSocket {
  remote?: DatagramInfo;

  constructor(private readonly sock: UdpSocket) {
    super();
    sock.on('message', (data, rinfo) => this.emit('message', data, { address: formatIpv4(rinfo.address), port: rinfo.port }));
    sock.on('icmpError', (e) => {
      const code = e.kind === 'port-unreachable' ? 'ECONNREFUSED' : 'EHOSTUNREACH';
      this.emit('error', plainError(code === 'ECONNREFUSED' ? 'Connection refused' : 'No route to host', code));
    });
  }

  get localAddress(): string {
    return formatIpv4(this.sock.localAddress);
  }

  get localPort(): number {
    return this.sock.localPort;
  }

  send(data: Uint8Array, to?: DatagramInfo): void {
    const res = to ? this.sock.send(data, to.port, to.address) : this.sock.send(data);
    if (res !== 'sent' && res !== 'queued') this.emit('error', plainError('No route to host', 'EHOSTUNREACH'));
  }

  close(): void {
    this.sock.close();
  }
}

/** UDP over the Stack; host names go through the Stack's resolver when it has one. */
export function stackDatagrams(stack: Stack): DatagramBackend {
  return {
    async open(options) {
      let remote: { address: Ipv4Address; port: number } | null = null;
      if (options.remote) {
        let addr = tryParseIpv4(options.remote.host);
        if (addr === null) {
          const dns = (stack as { dns?: { resolve(name: string): Promise<Ipv4Address[]> } }).dns;
          if (!dns) throw plainError('Unknown host', 'ENOTFOUND');
          const found = await dns.resolve(options.remote.host);
          if (found.length === 0) throw plainError('Unknown host', 'ENOTFOUND');
          addr = found[0];
        }
        remote = { address: addr, port: options.remote.port };
      }
      let sock: UdpSocket;
      try {
        sock = stack.udp.bind({ port: options.port, address: options.address });
      } catch (e) {
        if (/EADDRINUSE/.test((e as Error).message)) throw plainError('Port already open', 'EADDRINUSE');
        throw e;
      }
      const wrapped = new StackDatagramSocket(sock);
      if (remote) {
        sock.connect(remote.address, remote.port);
        wrapped.remote = { address: formatIpv4(remote.address), port: remote.port };
      }
      return wrapped;
    },
  };
}
