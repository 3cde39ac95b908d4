/**
 * `pnet`: curl-, ping- and ifconfig-like commands on the pnet stack, in the
 * embedded world (default) or on a Linux TAP device. `pnet --help` lists them.
 *
 * Exit codes: 0 ok; 1 the operation failed (network error, no ping reply);
 * 2 bad usage; 3 bad URL; 22 an HTTP status of 400 or more with --fail.
 * Every failure prints one line `pnet: <reason>` on stderr.
 */
import { closeSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Stack } from '@pnet/tcpip';
import type { HTTPHandle } from '@pnet/libsystem';
import type { RequestHandler } from '@pnet/http';
import { flag, formatOptions, type OptionSpec, type Parsed, parseArgs, UsageError, value, values } from './args';
import type { Session } from './session';
import { SESSION_OPTIONS } from './session-options';

// The stack is loaded only when a command runs, so `--help` and usage errors answer at once.
const session = (): typeof import('./session') => require('./session');
const openSession: typeof import('./session').openSession = (...a) => session().openSession(...a);
const fmt = (ip: number): string => session().fmt(ip);
const formatMac = (m: number): string => (require('@pnet/nic') as typeof import('@pnet/nic')).formatMac(m as never);
const tryParseIpv4 = (s: string) => (require('@pnet/tcpip') as typeof import('@pnet/tcpip')).tryParseIpv4(s);

class Failure extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

interface Command {
  name: string;
  args: string;
  summary: string;
  options: OptionSpec[];
  run(p: Parsed): Promise<number>;
}

const HTTP_OPTIONS: OptionSpec[] = [
  { name: 'header', short: 'H', value: '"Name: value"', repeat: true, help: 'add a request header (repeatable)' },
  { name: 'include', short: 'i', help: 'show the status line and response headers' },
  { name: 'output', short: 'o', value: 'FILE', help: 'write the body to FILE (a progress bar on a terminal)' },
  { name: 'location', short: 'L', help: 'follow redirects (the default)' },
  { name: 'no-location', help: 'do not follow redirects' },
  { name: 'fail', short: 'f', help: 'exit 22 when the status is 400 or more' },
];
const DATA_OPTION: OptionSpec = { name: 'data', short: 'd', value: 'DATA|@FILE', help: 'request body (@FILE reads a file)' };

function out(s: string | Uint8Array): void {
  writeAll(1, typeof s === 'string' ? Buffer.from(s) : s);
}

function writeAll(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) {
    try {
      off += writeSync(fd, b, off, b.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw e;
    }
  }
}

function headersOf(p: Parsed): Record<string, string> {
  const h: Record<string, string> = {};
  for (const line of values(p, 'header')) {
    const i = line.indexOf(':');
    if (i <= 0) throw new UsageError(`-H must be "Name: value", got ${JSON.stringify(line)}`);
    h[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return h;
}

function dataOf(p: Parsed): Buffer | undefined {
  const d = value(p, 'data');
  if (d === undefined) return undefined;
  if (!d.startsWith('@')) return Buffer.from(d);
  try {
    return readFileSync(d.slice(1));
  } catch (e) {
    throw new UsageError(`-d ${d}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function progress(done: number, total: number | null): void {
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  if (total && total > 0) {
    const width = 30;
    const filled = Math.min(width, Math.round((done / total) * width));
    process.stderr.write(`\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${Math.floor((done / total) * 100).toString().padStart(3)}% ${kib(done)} of ${kib(total)}`);
  } else {
    process.stderr.write(`\r${kib(done)}`);
  }
}

function httpCommand(name: 'get' | 'head' | 'options' | 'delete' | 'post' | 'put'): Command {
  const withData = name === 'post' || name === 'put' || name === 'delete';
  return {
    name,
    args: name === 'post' || name === 'put' ? 'URL -d DATA|@FILE' : 'URL',
    summary: name === 'head' ? 'HEAD a URL (http or https) and print the status and headers' : `${name.toUpperCase()} a URL (http or https) and print the body`,
    options: [...(withData ? [DATA_OPTION] : []), ...HTTP_OPTIONS, ...SESSION_OPTIONS],
    async run(p) {
      if (p.positional.length !== 1) throw new UsageError(`${name} needs exactly one URL`);
      const url = p.positional[0];
      const data = dataOf(p);
      if ((name === 'post' || name === 'put') && data === undefined) throw new UsageError(`${name} needs a body: -d DATA or -d @FILE`);
      if (flag(p, 'location') && flag(p, 'no-location')) throw new UsageError('-L and --no-location contradict each other');
      const headers = headersOf(p);
      const outFile = value(p, 'output');
      const options = { url, headers, redirect: !flag(p, 'no-location') };
      const s = await openSession(p);
      try {
        const { network } = s.system;
        const v0 = s.clock.now();
        const w0 = performance.now();
        let result;
        try {
          switch (name) {
            case 'get': result = await network.get(options); break;
            case 'head': result = await network.head(options); break;
            case 'options': result = await network.options(options); break;
            case 'delete': result = await network.delete(options, data); break;
            case 'post': result = await network.post(options, data!); break;
            case 'put': result = await network.put(options, data!); break;
          }
        } catch (e) {
          // Phoenix's argument errors: Invalid URI, Invalid scheme, ...
          throw new Failure(`${(e as Error).message}: ${url}`, 3);
        }
        const [h, err] = result;
        if (!h) throw new Failure(`${err} (${url})`, 1);
        const code = h.responseCode();
        s.log(`${code} after ${(s.clock.now() - v0).toFixed(1)} ms (wall ${(performance.now() - w0).toFixed(1)} ms)`);
        if (flag(p, 'include') || name === 'head') {
          const lines = [`HTTP/1.1 ${code}`];
          for (const [k, v] of Object.entries(h.responseHeaders())) lines.push(`${k}: ${v}`);
          out(`${lines.join('\r\n')}\r\n\r\n`);
        }
        if (name !== 'head') await copyBody(h, outFile);
        h.close();
        if (flag(p, 'fail') && code >= 400) throw new Failure(`the server answered ${code} (${url})`, 22);
        return 0;
      } finally {
        await s.close();
      }
    },
  };
}

async function copyBody(h: HTTPHandle, outFile: string | undefined): Promise<void> {
  const fd = outFile ? openFileForWrite(outFile) : 1;
  const showProgress = outFile !== undefined && process.stderr.isTTY === true;
  const lengthHeader = h.responseHeaders()['content-length'];
  const total = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
  let done = 0;
  try {
    for (;;) {
      const chunk = await h.read(65536);
      if (chunk === null) break;
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      writeAll(fd, b);
      done += b.length;
      if (showProgress) progress(done, total);
    }
  } finally {
    if (fd !== 1) closeSync(fd);
    if (showProgress) process.stderr.write('\n');
  }
}

function openFileForWrite(file: string): number {
  try {
    return openSync(file, 'w');
  } catch (e) {
    throw new Failure(`cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 1);
  }
}

async function resolveHost(s: Session, host: string): Promise<number> {
  const dotted = /^\d+\.\d+\.\d+\.\d+$/.test(host) ? tryParseIpv4(host) : null;
  if (dotted !== null) return dotted;
  try {
    const found = (await s.stack.dns.resolve(host)) as number[];
    if (found.length > 0) return found[0];
  } catch {
    // reported below
  }
  throw new Failure(`unknown host ${host}`, 1);
}

const ping: Command = {
  name: 'ping',
  args: 'HOST',
  summary: 'send ICMP echo requests and print the replies',
  options: [
    { name: 'count', short: 'c', value: 'N', help: 'stop after N requests (default 4)' },
    { name: 'size', short: 's', value: 'BYTES', help: 'payload size (default 56)' },
    ...SESSION_OPTIONS,
  ],
  async run(p) {
    if (p.positional.length !== 1) throw new UsageError('ping needs exactly one HOST');
    const count = Number(value(p, 'count') ?? '4');
    const size = Number(value(p, 'size') ?? '56');
    if (!Number.isInteger(count) || count < 1) throw new UsageError(`-c must be a positive integer, got ${value(p, 'count')}`);
    if (!Number.isInteger(size) || size < 0 || size > 65507) throw new UsageError(`-s must be 0..65507, got ${value(p, 'size')}`);
    const s = await openSession(p);
    try {
      const host = p.positional[0];
      const ip = await resolveHost(s, host);
      out(`PING ${host} (${fmt(ip)}) ${size} bytes of data, from ${s.where}\n`);
      const rtts: number[] = [];
      for (let i = 1; i <= count; i++) {
        const sentAt = s.clock.now();
        try {
          const r = await s.stack.icmp.ping(fmt(ip), { size, timeout: 2000 });
          rtts.push(r.rtt);
          out(`${r.bytes + 8} bytes from ${fmt(r.from)}: icmp_seq=${i} ttl=${r.ttl} time=${r.rtt.toFixed(1)} ms\n`);
        } catch (e) {
          out(`From ${fmt(ip)} icmp_seq=${i} ${(e as Error).message.replace(/^ping: /, '')}\n`);
        }
        if (i < count) await sleep(s, sentAt + 1000 - s.clock.now());
      }
      const loss = Math.round(((count - rtts.length) / count) * 100);
      out(`\n--- ${host} ping statistics ---\n${count} packets transmitted, ${rtts.length} received, ${loss}% packet loss\n`);
      if (rtts.length > 0) {
        const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
        out(`rtt min/avg/max = ${Math.min(...rtts).toFixed(1)}/${avg.toFixed(1)}/${Math.max(...rtts).toFixed(1)} ms\n`);
      }
      if (rtts.length === 0) throw new Failure(`no reply from ${host}`, 1);
      return 0;
    } finally {
      await s.close();
    }
  },
};

function sleep(s: Session, ms: number): Promise<void> {
  return new Promise((resolve) => {
    s.clock.schedule(s.clock.now() + Math.max(0, ms), () => resolve());
  });
}

const ifconfig: Command = {
  name: 'ifconfig',
  args: '',
  summary: "show this host's interfaces (address, MAC, MTU, counters)",
  options: SESSION_OPTIONS,
  async run(p) {
    if (p.positional.length > 0) throw new UsageError('ifconfig takes no arguments');
    const s = await openSession(p);
    try {
      for (const i of s.stack.interfaces) {
        const c = i.nic.counters;
        const lines = [
          `${i.name}: ${i.up ? 'UP' : 'DOWN'}${i.loopback ? ' LOOPBACK' : ' BROADCAST'}  mtu ${i.mtu}`,
          `        inet ${fmt(i.ip)}/${i.prefix}${i.loopback ? '' : `  broadcast ${fmt(i.broadcastAddress)}`}`,
        ];
        if (!i.loopback) lines.push(`        ether ${formatMac(i.mac)}  (${s.where})`);
        lines.push(`        RX packets ${c.rxPackets}  bytes ${c.rxBytes}  dropped ${c.rxDrops}  errors ${c.rxErrors}`);
        lines.push(`        TX packets ${c.txPackets}  bytes ${c.txBytes}  dropped ${c.txDrops}  errors ${c.txErrors}`);
        out(`${lines.join('\n')}\n\n`);
      }
      return 0;
    } finally {
      await s.close();
    }
  },
};

const route: Command = {
  name: 'route',
  args: '',
  summary: 'show the routing tables (Phoenix route.list for tables 0 and 1)',
  options: SESSION_OPTIONS,
  async run(p) {
    if (p.positional.length > 0) throw new UsageError('route takes no arguments');
    const s = await openSession(p);
    try {
      const rows = [['table', 'destination', 'gateway', 'action', 'device']];
      for (const table of [0, 1]) {
        for (const r of s.system.network.route.list(table) ?? []) {
          rows.push([String(table), `${r.source}/${r.sourceNetmask}`, r.destination ?? '-', r.action, r.device ?? '-']);
        }
      }
      const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)) + 2);
      out(rows.map((r) => r.map((v, c) => v.padEnd(widths[c])).join('').trimEnd()).join('\n') + '\n');
      return 0;
    } finally {
      await s.close();
    }
  },
};

const arp: Command = {
  name: 'arp',
  args: '',
  summary: "show the ARP cache of eth0 (after reaching the gateway, so it is not empty)",
  options: SESSION_OPTIONS,
  async run(p) {
    if (p.positional.length > 0) throw new UsageError('arp takes no arguments');
    const s = await openSession(p);
    try {
      const gw = (s.system.network.route.list(0) ?? []).find((r) => r.sourceNetmask === 0 && r.destination)?.destination;
      if (gw) await s.stack.icmp.ping(gw, { timeout: 2000 }).catch(() => undefined);
      const entries = s.system.network.arp.list('eth0');
      const ips = Object.keys(entries);
      if (ips.length === 0) out('(no entries)\n');
      for (const ip of ips) out(`${ip.padEnd(17)}${entries[ip]}  eth0\n`);
      return 0;
    } finally {
      await s.close();
    }
  },
};

const up: Command = {
  name: 'up',
  args: '',
  summary: 'keep this host running (answers ARP and ping) until interrupted; optionally serve files or echo',
  options: [
    { name: 'http', value: 'DIR', help: 'serve the files under DIR over HTTP on port 80' },
    { name: 'echo', help: 'echo services on TCP and UDP port 7 (RFC 862)' },
    ...SESSION_OPTIONS,
  ],
  async run(p) {
    if (p.positional.length > 0) throw new UsageError('up takes no arguments');
    const dir = value(p, 'http');
    if (dir !== undefined) {
      let ok = false;
      try { ok = statSync(dir).isDirectory(); } catch { /* reported below */ }
      if (!ok) throw new UsageError(`--http ${dir}: not a directory`);
    }
    let interrupted!: () => void;
    const stopped = new Promise<void>((resolve) => { interrupted = resolve; });
    process.once('SIGINT', () => interrupted());
    process.once('SIGTERM', () => interrupted());
    // Nothing happens on its own in a quiet world: run it in real time so a host that waits does not race through virtual hours.
    const s = await openSession(p, { realTime: true });
    const stops: Array<() => unknown> = [];
    if (dir !== undefined) {
      const { HttpServer } = require('@pnet/http') as typeof import('@pnet/http');
      const { stackTransport } = require('@pnet/tls') as typeof import('@pnet/tls');
      const server = new HttpServer(staticFiles(path.resolve(dir)), { clock: s.clock });
      await server.listen(stackTransport(s.stack), { port: 80 });
      stops.push(() => server.close());
    }
    if (flag(p, 'echo')) stops.push(serveEchoPorts(s.stack));
    const cfg = s.system.network.ipconfig('eth0');
    const services = [dir !== undefined ? `http on port 80 from ${path.resolve(dir)}` : '', flag(p, 'echo') ? 'echo on tcp/udp port 7' : ''].filter(Boolean);
    out(`pnet up: ${cfg?.ip}/${cfg?.netmask} on eth0 (${s.where})${services.length ? `; ${services.join('; ')}` : ''}; Ctrl-C to stop\n`);
    await stopped;
    for (const stop of stops) await stop();
    await s.close();
    out('pnet up: stopped\n');
    return 0;
  },
};

/** RFC 862 echo on TCP and UDP port 7; returns a stop function. */
function serveEchoPorts(stack: Stack): () => void {
  const tcp = stack.tcp.listen({ port: 7 });
  tcp.on('connection', (sock) => {
    sock.on('error', () => undefined);
    sock.pipe(sock);
  });
  const udp = stack.udp.bind({ port: 7 });
  udp.on('message', (data, rinfo) => udp.send(data, rinfo.port, rinfo.address));
  return () => {
    tcp.close();
    udp.close();
  };
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.txt': 'text/plain; charset=utf-8', '.json': 'application/json', '.js': 'text/javascript',
  '.css': 'text/css', '.png': 'image/png', '.jpg': 'image/jpeg', '.svg': 'image/svg+xml', '.pcap': 'application/vnd.tcpdump.pcap',
};

/** GET/HEAD of files under `root` (an index.html or a listing for directories); nothing outside it. */
function staticFiles(root: string): RequestHandler {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      res.end('method not allowed\n');
      return;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(req.url.pathname);
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('bad path\n');
      return;
    }
    const file = path.resolve(root, `.${rel}`);
    if (file !== root && !file.startsWith(root + path.sep)) {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end('forbidden\n');
      return;
    }
    try {
      let target = file;
      if (statSync(target).isDirectory()) {
        const index = path.join(target, 'index.html');
        try {
          statSync(index);
          target = index;
        } catch {
          const names = readdirSync(target);
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
          res.end(names.sort().join('\n') + '\n');
          return;
        }
      }
      const body = readFileSync(target);
      res.writeHead(200, { 'content-type': TYPES[path.extname(target)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    }
  };
}

const COMMANDS: Command[] = [
  httpCommand('get'), httpCommand('head'), httpCommand('options'), httpCommand('delete'), httpCommand('post'), httpCommand('put'),
  ping, ifconfig, route, arp, up,
];

function mainHelp(): string {
  const rows = COMMANDS.map((c) => `  ${`${c.name} ${c.args}`.padEnd(24)}${c.summary}`);
  return [
    'pnet: network commands on the pnet stack (TypeScript, from Ethernet up)',
    '',
    'usage: pnet COMMAND [options] [args]       pnet COMMAND --help',
    '',
    ...rows,
    '',
    'Every command runs in the embedded world (a DHCP router, DNS, example.test, echo.test;',
    'virtual time) unless --tap DEV is given.',
    '',
    'Exit codes: 0 ok, 1 failed (network), 2 bad usage, 3 bad URL, 22 HTTP status >= 400 with --fail.',
  ].join('\n');
}

function commandHelp(c: Command): string {
  return [`usage: pnet ${c.name}${c.args ? ` ${c.args}` : ''} [options]`, '', c.summary, '', 'options:', formatOptions(c.options)].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    out(`${mainHelp()}\n`);
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) throw new UsageError(`unknown command ${JSON.stringify(name)} (pnet --help lists them)`);
  const p = parseArgs(rest, cmd.options);
  if (flag(p, 'help')) {
    out(`${commandHelp(cmd)}\n`);
    return 0;
  }
  return cmd.run(p);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = err as Error;
    let code = 1;
    if (err instanceof UsageError) code = 2;
    else if (err instanceof Failure) code = err.code;
    const msg = (e && e.message ? e.message : String(err)).split('\n')[0];
    process.stderr.write(`pnet: ${msg}\n`);
    if (process.env.PNET_DEBUG && e?.stack) process.stderr.write(`${e.stack}\n`);
    process.exitCode = code;
  },
);
