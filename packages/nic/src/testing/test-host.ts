/**
 * Test hosts: a Linux network namespace per test, with the kernel on the far
 * side of a TAP (opened by this process, so the stack under test is the other
 * end) or of a veth pair, and real peers (nginx, dnsmasq, openssl s_server,
 * socat, python3 ...) run inside it. Addresses come from the TEST-NETs only
 * (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24), so no traffic can leave.
 *
 * Everything a TestHost creates is removed when it closes: on test teardown,
 * when the test fails, when the process exits or gets SIGINT/SIGTERM; and
 * namespaces left behind by dead processes (SIGKILL) are removed the next time
 * any test host is created.
 *
 * Namespaces are named `pnet-<pid>-<n>[-label]`, so parallel test processes
 * never collide and a stale one tells whose it was.
 */
import { ChildProcess, execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MacAddress, parseMac } from '../nic/mac-address';
import { loadTapAddon, TapUnavailableError } from '../tap/addon';
import { TapNic, TapNicOptions } from '../tap/tap-nic';

export const TEST_NETS = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'] as const;
export type TestNet = (typeof TEST_NETS)[number];

/** What a test host needs from a test context: somewhere to register cleanup (ava's `t` fits). */
export interface TeardownContext {
  teardown(fn: () => void | Promise<void>): void;
}

export interface TestHostOptions {
  /** The TEST-NET the link lives in (default 192.0.2.0/24). */
  net?: TestNet;
  /** Host part of the kernel side's address (default 1: 192.0.2.1). */
  hostId?: number;
  /** Host part of the address the stack under test should use (default 2: 192.0.2.2). */
  peerId?: number;
  /**
   * `tap` (default): a TapNic opened by this process; its device is moved into
   * the namespace and becomes the kernel's interface there, so `host.nic` talks
   * to the namespace's kernel. `veth`: a veth pair with one end (addressed) in
   * the namespace and the other, unaddressed and up, left in ours
   * (`outerIfname`). `none`: the namespace and its loopback only.
   */
  link?: 'tap' | 'veth' | 'none';
  /** TapNic options (mac defaults to 02:00:00:00:00:<peerId>). */
  tap?: Partial<TapNicOptions>;
  /** MTU of the kernel-side interface (default: the TapNic's MTU, or 1500). */
  mtu?: number;
  /** Keep IPv6 on the interface (default false: no DAD, router or MLD chatter on the wire). */
  ipv6?: boolean;
  /** Let the kernel create neighbour entries from gratuitous ARP (net.ipv4.conf.<if>.arp_accept=1). Default false. */
  arpAccept?: boolean;
  /** Appended to the namespace name, for diagnostics. */
  label?: string;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Throw when the command exits non-zero (default true). */
  check?: boolean;
  input?: string;
  /** Kill the command after this long (default 120 s). Not a test assertion: a hang guard (machines under load are slow). */
  timeoutMs?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface Neighbour {
  ip: string;
  mac: MacAddress | null;
  state: string[];
}

export interface HostSupport {
  ok: boolean;
  /** Why not, in one line (empty when ok). */
  reason: string;
}

export interface SupportNeeds {
  /** A TAP device (the addon built, /dev/net/tun). Default true. */
  tap?: boolean;
  /** Programs that must be on PATH (or in /usr/sbin, /sbin), e.g. ['nginx', 'tshark']. */
  commands?: string[];
}

const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];
const NS_PREFIX = 'pnet-';
let counter = 0;
let staleSwept = false;
let netnsProbe: HostSupport | null = null;
const live = new Set<TestHost>();

function which(cmd: string): string | null {
  if (cmd.includes('/')) return fs.existsSync(cmd) ? cmd : null;
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), ...SBIN]) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

function ipBin(): string {
  const ip = which('ip');
  if (!ip) throw new Error('test host: the `ip` command (iproute2) is not installed');
  return ip;
}

/** Runs `ip ...args` synchronously; throws with ip's own message on failure. */
function ip(...args: string[]): string {
  const r = spawnSync(ipBin(), args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`test host: ip ${args.join(' ')} failed: ${(r.stderr || r.stdout || String(r.error)).trim()}`);
  return r.stdout;
}

/**
 * Whether this machine can run test hosts (Linux, root, iproute2, `ip netns`,
 * and for `tap` the addon and /dev/net/tun), and the programs in `commands`.
 */
export function hostSupport(needs: SupportNeeds = {}): HostSupport {
  const no = (reason: string): HostSupport => ({ ok: false, reason });
  if (process.platform !== 'linux') return no(`network namespaces need Linux (this is ${process.platform})`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return no('needs root (network namespaces, TAP devices); run the tests as root');
  if (!which('ip')) return no('the `ip` command is missing (apt-get install iproute2)');
  if (netnsProbe === null) {
    const name = `${NS_PREFIX}${process.pid}-probe`;
    const r = spawnSync(ipBin(), ['netns', 'add', name], { encoding: 'utf8' });
    if (r.status !== 0) netnsProbe = no(`\`ip netns add\` does not work here: ${(r.stderr || '').trim()}`);
    else {
      spawnSync(ipBin(), ['netns', 'del', name]);
      netnsProbe = { ok: true, reason: '' };
    }
  }
  if (!netnsProbe.ok) return netnsProbe;
  if (needs.tap !== false) {
    try {
      loadTapAddon();
    } catch (e) {
      return no(e instanceof TapUnavailableError ? e.reason : (e as Error).message);
    }
    if (!fs.existsSync('/dev/net/tun')) return no('/dev/net/tun does not exist (modprobe tun; in a container pass --device /dev/net/tun)');
  }
  for (const cmd of needs.commands ?? []) {
    if (!which(cmd)) return no(`\`${cmd}\` is not installed`);
  }
  return { ok: true, reason: '' };
}

/** The parts of ava's `test` that requireRoot uses. */
interface TestFnLike {
  (title: string, fn: (t: { fail(message?: string): void }) => void): void;
  skip: (title: string, fn: () => void) => void;
  serial?: (title: string, fn: (t: { fail(message?: string): void }) => void) => void;
}

/**
 * Wraps ava's `test` for tests that need root and network namespaces:
 *
 *     const rootTest = requireRoot(test, { commands: ['nginx'] });
 *     rootTest('nginx answers', async (t) => { const host = await TestHost.create(t); ... });
 *
 * When the machine can run them, it is `test` itself. Otherwise each test is
 * skipped with a loud reason on stderr; with CI=true each fails instead, so
 * CI cannot pass by skipping.
 */
export function requireRoot<T extends TestFnLike>(test: T, needs: SupportNeeds = {}): T {
  const support = hostSupport(needs);
  if (support.ok) return test;
  const ci = process.env.CI === 'true';
  const register = (serial: boolean) => (title: string): void => {
    if (ci) {
      const fn = (t: { fail(message?: string): void }): void => t.fail(`CI=true and this test cannot run: ${support.reason}`);
      if (serial && test.serial) test.serial(title, fn);
      else test(title, fn);
    } else {
      console.warn(`\n*** SKIPPING "${title}": ${support.reason}. (With CI=true this test fails instead.) ***\n`);
      test.skip(title, () => {});
    }
  };
  const wrapper = register(false) as unknown as T;
  Object.assign(wrapper, { serial: register(true), skip: test.skip });
  return wrapper;
}

/**
 * For a test body: true when test hosts work here. Otherwise prints the loud
 * reason and returns false (with CI=true it fails the test instead). The test
 * should `return` after `t.pass()`-ing or use `requireRoot`, which shows up as
 * a real skip.
 */
export function skipUnlessRoot(t: { log(...values: unknown[]): void; fail(message?: string): void; pass(message?: string): void }, needs: SupportNeeds = {}): boolean {
  const support = hostSupport(needs);
  if (support.ok) return true;
  if (process.env.CI === 'true') {
    t.fail(`CI=true and this test cannot run: ${support.reason}`);
  } else {
    console.warn(`\n*** NOT RUN: ${support.reason}. (With CI=true this fails.) ***\n`);
    t.log(`not run: ${support.reason}`);
    t.pass(`not run: ${support.reason}`);
  }
  return false;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function killNamespacePids(ns: string): void {
  const r = spawnSync(ipBin(), ['netns', 'pids', ns], { encoding: 'utf8' });
  if (r.status !== 0) return;
  for (const line of r.stdout.split('\n')) {
    const pid = Number(line.trim());
    if (Number.isInteger(pid) && pid > 1 && pid !== process.pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

function deleteNamespace(ns: string): void {
  killNamespacePids(ns);
  spawnSync(ipBin(), ['netns', 'del', ns]);
}

/** Removes `pnet-<pid>-*` namespaces whose process is dead (left by a SIGKILLed run). Returns their names. */
export function sweepStaleNamespaces(): string[] {
  const r = spawnSync(ipBin(), ['netns', 'list'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  const removed: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const name = line.trim().split(/\s+/)[0];
    const m = /^pnet-(\d+)-/.exec(name ?? '');
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    deleteNamespace(name);
    removed.push(name);
  }
  return removed;
}

let handlersInstalled = false;
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', closeAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      closeAllSync();
      process.removeListener(sig, onSignal);
      // Die of the signal as if we had not caught it (unless someone else handles it).
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

function closeAllSync(): void {
  for (const host of [...live]) host.closeSync();
}

function addressIn(net: TestNet, id: number): string {
  if (!Number.isInteger(id) || id < 1 || id > 254) throw new RangeError(`test host: host id must be 1..254, got ${id}`);
  return net.replace(/\.0\/24$/, `.${id}`);
}

/** A peer process running inside a test host's namespace; killed when the host closes. */
export class Peer {
  /** stdout and stderr so far (the last 64 KiB), for failure messages. */
  private log = '';
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined = undefined;

  constructor(readonly host: TestHost, readonly argv: string[], readonly process: ChildProcess) {
    const append = (chunk: Buffer): void => {
      this.log = (this.log + chunk.toString('utf8')).slice(-65536);
    };
    process.stdout?.on('data', append);
    process.stderr?.on('data', append);
    this.exited = new Promise((resolve) => {
      process.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        resolve(this.exitCode);
      });
      process.on('error', (e) => {
        this.log += `\n[spawn error: ${e.message}]`;
        this.exitCode = -1;
        resolve(-1);
      });
    });
  }

  get output(): string {
    return this.log;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Resolves when something in the namespace listens on `port` (tcp or udp); rejects if the peer dies or after `timeoutMs`. */
  waitForPort(port: number, proto: 'tcp' | 'udp' = 'tcp', timeoutMs = 120000): Promise<void> {
    return this.host.waitForPort(port, proto, timeoutMs, this);
  }

  /** Resolves when the peer's output matches `pattern`; rejects if it dies first or after `timeoutMs`. */
  async waitForOutput(pattern: RegExp, timeoutMs = 120000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(this.log);
      if (m) return m;
      if (!this.running) throw new Error(`peer ${this.argv.join(' ')} exited (${this.exitCode}) before printing ${pattern}:\n${this.log}`);
      if (Date.now() > deadline) throw new Error(`peer ${this.argv.join(' ')} did not print ${pattern} within ${timeoutMs} ms:\n${this.log}`);
      await sleep(20);
    }
  }

  /** Kills the peer (its whole process group) and waits for it to exit. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    this.killSync(signal);
    const timer = setTimeout(() => this.killSync('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(timer);
  }

  /** @internal */
  killSync(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.running || this.process.pid === undefined) return;
    try {
      process.kill(-this.process.pid, signal);
    } catch {
      try {
        this.process.kill(signal);
      } catch {
        // gone
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A network namespace with the kernel at `address` on interface `ifname`,
 * reachable from the stack through `nic` (link `tap`). Create it with
 * `TestHost.create(t, options)`; it closes itself on `t`'s teardown.
 */
export class TestHost {
  /** The namespace's name (`ip netns exec <ns> ...`). */
  readonly ns: string;
  readonly net: TestNet;
  readonly prefixLength = 24;
  /** The kernel side's IPv4 address, e.g. 192.0.2.1. */
  readonly address: string;
  /** The address the stack under test should use on the link, e.g. 192.0.2.2. */
  readonly peerAddress: string;
  /** The kernel side's interface in the namespace (the TAP device, or the inner veth end); '' for link `none`. */
  readonly ifname: string;
  /** The stack's end of the link (link `tap`), else null. Closed with the host. */
  readonly nic: TapNic | null;
  /** The veth end left in our namespace (link `veth`), else null. */
  readonly outerIfname: string | null;
  /** A private temporary directory (configs, captures), removed on close. */
  readonly dir: string;
  private readonly peers = new Set<Peer>();
  private closedFlag = false;

  /**
   * Creates the namespace and its link. Without root or netns support it
   * throws (use `requireRoot` to skip such tests instead).
   */
  static async create(t: TeardownContext | null, options: TestHostOptions = {}): Promise<TestHost> {
    const host = new TestHost(options);
    if (t) t.teardown(() => host.close());
    if (host.nic) await host.nic.whenReady;
    return host;
  }

  private constructor(options: TestHostOptions) {
    // Bad options are API errors: say so before looking at the machine.
    const net = options.net ?? '192.0.2.0/24';
    if (!TEST_NETS.includes(net)) throw new RangeError(`test host: net must be one of ${TEST_NETS.join(', ')}, got ${net}`);
    const hostId = options.hostId ?? 1;
    const peerId = options.peerId ?? 2;
    if (hostId === peerId) throw new RangeError('test host: hostId and peerId must differ');
    this.net = net;
    this.address = addressIn(net, hostId);
    this.peerAddress = addressIn(net, peerId);
    const link = options.link ?? 'tap';
    if (link !== 'tap' && link !== 'veth' && link !== 'none') throw new RangeError(`test host: link must be 'tap', 'veth' or 'none', got ${String(link)}`);
    const support = hostSupport({ tap: link === 'tap' });
    if (!support.ok) throw new Error(`test host: cannot create: ${support.reason}`);
    if (!staleSwept) {
      staleSwept = true;
      sweepStaleNamespaces();
    }
    installExitHandlers();
    const n = ++counter;
    const label = options.label ? `-${options.label.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40)}` : '';
    this.ns = `${NS_PREFIX}${process.pid}-${n}${label}`;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `${this.ns}-`));
    let nic: TapNic | null = null;
    let ifname = '';
    let outer: string | null = null;
    // From here on, anything created is registered so a failure part-way still cleans up.
    live.add(this);
    try {
      ip('netns', 'add', this.ns);
      this.nsIp('link', 'set', 'lo', 'up');
      if (!options.ipv6) {
        this.sysctl('net.ipv6.conf.all.disable_ipv6', '1', true);
        this.sysctl('net.ipv6.conf.default.disable_ipv6', '1', true);
      }
      if (link === 'tap') {
        const mac = options.tap?.mac ?? parseMac(`02:00:00:00:00:${peerId.toString(16).padStart(2, '0')}`);
        // A name of our own (not pnet%d): names are reused as soon as a device leaves our namespace, which
        // makes `ip link` output from parallel tests ambiguous.
        const name = options.tap?.name ?? `pn${process.pid.toString(36)}t${n.toString(36)}`;
        nic = TapNic.open({ ...options.tap, mac, name });
        ifname = nic.ifname;
        // The fd we hold stays valid when its device moves to another namespace.
        ip('link', 'set', 'dev', ifname, 'netns', this.ns);
      } else if (link === 'veth') {
        const id = `${process.pid.toString(36)}${n.toString(36)}`.slice(-9);
        outer = `pnv${id}o`;
        ifname = `pnv${id}i`;
        ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', ifname);
        ip('link', 'set', 'dev', ifname, 'netns', this.ns);
        ip('link', 'set', 'dev', outer, 'up');
      }
      if (ifname) {
        if (!options.ipv6) this.sysctl(`net.ipv6.conf.${ifname}.disable_ipv6`, '1', true);
        if (options.arpAccept) this.sysctl(`net.ipv4.conf.${ifname}.arp_accept`, '1');
        const mtu = options.mtu ?? nic?.capabilities.mtu;
        if (mtu !== undefined) this.nsIp('link', 'set', 'dev', ifname, 'mtu', String(mtu));
        this.nsIp('addr', 'add', `${this.address}/${this.prefixLength}`, 'dev', ifname);
        this.nsIp('link', 'set', 'dev', ifname, 'up');
      }
    } catch (e) {
      this.nic = nic;
      this.ifname = ifname;
      this.outerIfname = outer;
      this.closeSync();
      throw e;
    }
    this.nic = nic;
    this.ifname = ifname;
    this.outerIfname = outer;
  }

  /** Runs `ip -n <ns> ...args` synchronously and returns its stdout. */
  nsIp(...args: string[]): string {
    return ip('-n', this.ns, ...args);
  }

  /** Sets a sysctl inside the namespace. */
  sysctl(key: string, value: string, optional = false): void {
    const r = spawnSync(ipBin(), ['netns', 'exec', this.ns, 'sysctl', '-qw', `${key}=${value}`], { encoding: 'utf8' });
    if (r.status !== 0 && !optional) throw new Error(`test host: sysctl ${key}=${value} in ${this.ns} failed: ${r.stderr.trim()}`);
  }

  /** Runs a command inside the namespace and waits for it. Throws on non-zero exit unless `check: false`. */
  exec(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    this.checkOpen();
    return new Promise((resolve, reject) => {
      const child = execFile(ipBin(), ['netns', 'exec', this.ns, ...argv], {
        encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 120000, cwd: options.cwd ?? this.dir,
        env: options.env ?? process.env,
      }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        const result = { code, stdout, stderr };
        if (code !== 0 && options.check !== false) {
          reject(new Error(`in ${this.ns}: ${argv.join(' ')} exited ${code}${err?.killed ? ' (killed: timeout)' : ''}:\n${stderr}${stdout}`));
        } else resolve(result);
      });
      if (options.input !== undefined) child.stdin?.end(options.input);
      else child.stdin?.end();
    });
  }

  /** Like `exec`, synchronously. */
  execSync(argv: string[], options: ExecOptions = {}): ExecResult {
    this.checkOpen();
    const r = spawnSync(ipBin(), ['netns', 'exec', this.ns, ...argv], {
      encoding: 'utf8', input: options.input, timeout: options.timeoutMs ?? 120000, cwd: options.cwd ?? this.dir,
      env: options.env ?? process.env, maxBuffer: 64 * 1024 * 1024,
    });
    const result = { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    if (result.code !== 0 && options.check !== false) {
      throw new Error(`in ${this.ns}: ${argv.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`);
    }
    return result;
  }

  /**
   * Starts a long-running peer inside the namespace (its own process group;
   * killed when the host closes). Wait for it with `peer.waitForPort(...)`.
   */
  spawn(argv: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Peer {
    this.checkOpen();
    if (argv.length === 0) throw new TypeError('test host: spawn needs a command');
    const child = spawn(ipBin(), ['netns', 'exec', this.ns, ...argv], {
      cwd: options.cwd ?? this.dir, env: options.env ?? process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Our exit handler kills it; it must not keep this process alive by itself.
    child.unref();
    (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
    (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
    const peer = new Peer(this, argv, child);
    this.peers.add(peer);
    void peer.exited.then(() => this.peers.delete(peer));
    return peer;
  }

  /** Resolves when a socket in the namespace listens on `port`; rejects after `timeoutMs` or when `peer` exits. */
  async waitForPort(port: number, proto: 'tcp' | 'udp' = 'tcp', timeoutMs = 120000, peer?: Peer): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const flags = proto === 'tcp' ? '-Hltn' : '-Hlun';
    for (;;) {
      const r = await this.exec(['ss', flags, `sport = :${port}`], { check: false });
      if (r.code === 0 && r.stdout.trim() !== '') return;
      if (peer && !peer.running) throw new Error(`peer ${peer.argv.join(' ')} exited (${await peer.exited}) before listening on ${proto}/${port}:\n${peer.output}`);
      if (Date.now() > deadline) throw new Error(`nothing listens on ${proto}/${port} in ${this.ns} after ${timeoutMs} ms${peer ? `:\n${peer.output}` : ''}`);
      await sleep(25);
    }
  }

  /** The kernel's neighbour table for the link (`ip -n <ns> neigh show dev <ifname>`). */
  neighbours(): Neighbour[] {
    const out = this.nsIp('-j', 'neigh', 'show', 'dev', this.ifname);
    const list = JSON.parse(out || '[]') as { dst: string; lladdr?: string; state?: string[] }[];
    return list.map((e) => ({ ip: e.dst, mac: e.lladdr ? parseMac(e.lladdr) : null, state: e.state ?? [] }));
  }

  /** The kernel side's MAC address on the link. */
  kernelMac(): MacAddress {
    const out = JSON.parse(this.nsIp('-j', 'link', 'show', 'dev', this.ifname)) as { address: string }[];
    return parseMac(out[0].address);
  }

  /** Interface counters as the kernel sees them (`ip -s`): rx = frames the stack sent, tx = frames the kernel sent. */
  kernelStats(): { rxPackets: number; rxBytes: number; txPackets: number; txBytes: number; rxDropped: number; txDropped: number } {
    const out = JSON.parse(this.nsIp('-j', '-s', 'link', 'show', 'dev', this.ifname)) as {
      stats64: { rx: { packets: number; bytes: number; dropped: number }; tx: { packets: number; bytes: number; dropped: number } };
    }[];
    const s = out[0].stats64;
    return { rxPackets: s.rx.packets, rxBytes: s.rx.bytes, txPackets: s.tx.packets, txBytes: s.tx.bytes, rxDropped: s.rx.dropped, txDropped: s.tx.dropped };
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** Kills the peers, closes the TapNic, deletes the namespace (and the veth) and the temp directory. Idempotent. */
  async close(): Promise<void> {
    if (this.closedFlag) return;
    await Promise.all([...this.peers].map((p) => p.kill()));
    this.closeSync();
    if (this.nic) await this.nic.whenClosed;
  }

  /** The synchronous part of `close` (also what runs at process exit). */
  closeSync(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    live.delete(this);
    for (const p of this.peers) p.killSync('SIGKILL');
    this.peers.clear();
    try {
      this.nic?.close();
    } catch {
      // closing is best effort at exit
    }
    deleteNamespace(this.ns);
    if (this.outerIfname) spawnSync(ipBin(), ['link', 'del', this.outerIfname]);
    try {
      fs.rmSync(this.dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }

  private checkOpen(): void {
    if (this.closedFlag) throw new Error(`test host ${this.ns} is closed`);
  }
}

/** Namespaces this process currently owns (for leak checks in tests). */
export function liveTestHosts(): string[] {
  return [...live].map((h) => h.ns);
}

/** Whether a namespace exists (`ip netns list`). */
export function namespaceExists(ns: string): boolean {
  const out = execFileSync(ipBin(), ['netns', 'list'], { encoding: 'utf8' });
  return out.split('\n').some((l) => l.trim().split(/\s+/)[0] === ns);
}
