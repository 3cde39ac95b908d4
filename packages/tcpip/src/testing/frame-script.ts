/**
 * The segment-level test language: a Stack wired to StubNics, driven in
 * virtual time. Feed a crafted frame at a given time, then assert the exact
 * frames that come out (or that nothing does):
 *
 *   const s = FrameScript.create({ interfaces: [{ mac: HOST_MAC, ip: '192.0.2.1', prefix: 24 }] });
 *   s.send(frame, { at: 10 });
 *   s.recv({ ipv4: { dst: '192.0.2.2' }, icmp: { type: 0 } });
 *   s.recvNothing();
 *
 * Assertions throw `FrameScriptError` with decoded frames in the message, so it
 * works under any test runner. Between steps the stack runs every timer that
 * falls due (it is not `start()`ed; the script polls it).
 */
import { MacAddress, Rng, VirtualClock, formatMac } from '@pnet/nic';
import { Stack, StackOptions } from '../iface/stack';
import { Ipv4Address } from '../wire/ipv4-address';
import { setIpv4Checksum } from '../wire/ipv4';
import { ETHERTYPE_IPV4, parseEthernet } from '../wire/ethernet';
import { StubNic } from './stub-nic';
import { FrameMatch, describeFrame, hex, mismatches } from './describe';

export class FrameScriptError extends Error {
  override name = 'FrameScriptError';
}

export interface ScriptInterface {
  name?: string;
  mac: MacAddress;
  ip?: Ipv4Address | string;
  prefix?: number;
  mtu?: number;
  /** NIC checksum offload overrides. */
  capabilities?: ConstructorParameters<typeof StubNic>[0]['capabilities'];
}

export interface CreateOptions {
  seed?: number;
  interfaces: ScriptInterface[];
  forwarding?: boolean;
  stack?: Partial<StackOptions>;
  startTime?: number;
}

export interface RecvOptions {
  /** Which NIC (by interface name; default the first). */
  nic?: string;
  /** For exact byte expectations: take the IPv4 ID from the actual frame (the stack picks it at random). */
  ignoreIpId?: boolean;
}

export class FrameScript {
  readonly stack: Stack;
  readonly clock: VirtualClock;
  readonly nics: Map<string, StubNic>;
  private readonly first: string;

  constructor(options: { stack: Stack; clock: VirtualClock; nics: Record<string, StubNic> }) {
    this.stack = options.stack;
    this.clock = options.clock;
    this.nics = new Map(Object.entries(options.nics));
    if (this.nics.size === 0) throw new Error('FrameScript: at least one NIC');
    this.first = [...this.nics.keys()][0];
  }

  /** A stack with StubNics for the given interfaces (eth0, eth1, ... unless named), configured and settled. */
  static create(options: CreateOptions): FrameScript {
    const clock = new VirtualClock(options.startTime ?? 0);
    const stack = new Stack({ clock, rng: new Rng(options.seed ?? 1), forwarding: options.forwarding, ...options.stack });
    const nics: Record<string, StubNic> = {};
    options.interfaces.forEach((spec, i) => {
      const name = spec.name ?? `eth${i}`;
      const nic = new StubNic({ name, mac: spec.mac, clock, mtu: spec.mtu, capabilities: spec.capabilities });
      stack.addInterface(nic, { name });
      nics[name] = nic;
      if (spec.ip !== undefined) stack.ipconfig(name, { ip: spec.ip, netmask: spec.prefix ?? 24 });
    });
    const script = new FrameScript({ stack, clock, nics });
    // Configuration sent gratuitous ARPs; tests start from a clean outbox.
    script.settle();
    script.discardAll();
    return script;
  }

  get now(): number {
    return this.clock.now();
  }

  nic(name = this.first): StubNic {
    const n = this.nics.get(name);
    if (!n) throw new Error(`FrameScript: no NIC ${name}`);
    return n;
  }

  /** Runs the stack (and any clock events) up to time `t`. Time never goes back. */
  at(t: number): this {
    if (t < this.clock.now()) throw new FrameScriptError(`FrameScript: time ${t} is in the past (now ${this.clock.now()})`);
    for (let guard = 0; guard < 1_000_000; guard++) {
      this.stack.poll();
      const next = Math.min(this.stack.pollAt(), this.clock.nextEventTime());
      if (next > t) break;
      if (next > this.clock.now()) this.clock.runUntil(next);
      else this.clock.runUntil(this.clock.now());
    }
    this.clock.runUntil(t);
    this.stack.poll();
    return this;
  }

  advance(ms: number): this {
    return this.at(this.clock.now() + ms);
  }

  /** Lets the stack handle everything due now. */
  settle(): this {
    return this.at(this.clock.now());
  }

  /** Feeds a frame (at time `at`, default now) and lets the stack handle it. */
  send(frame: Uint8Array, options: { nic?: string; at?: number } = {}): this {
    if (options.at !== undefined) this.at(options.at);
    if (!this.nic(options.nic).inject(frame)) throw new FrameScriptError('FrameScript.send: the NIC dropped the frame (link down or ring full)');
    return this.settle();
  }

  /**
   * Takes the next frame the stack sent and checks it: exact bytes (with
   * `ignoreIpId` for the random IP ID) or a partial `FrameMatch`. Returns it.
   */
  recv(expected: Uint8Array | FrameMatch, options: RecvOptions = {}): Uint8Array {
    this.settle();
    const nic = this.nic(options.nic);
    const got = nic.take();
    if (got === undefined) throw new FrameScriptError(`expected a frame on ${nic.name} at t=${this.now}, got nothing\n  expected: ${describeExpected(expected)}`);
    const problems = expected instanceof Uint8Array ? diffBytes(got, expected, options.ignoreIpId === true) : mismatches(got, expected);
    if (problems.length > 0) {
      throw new FrameScriptError(`frame on ${nic.name} at t=${this.now} does not match:\n  got:      ${describeFrame(got)}\n` +
        `  expected: ${describeExpected(expected)}\n  - ${problems.join('\n  - ')}`);
    }
    return got;
  }

  /** Checks that the stack sent nothing (more) on a NIC. */
  recvNothing(options: { nic?: string } = {}): this {
    this.settle();
    const nic = this.nic(options.nic);
    if (nic.outbox.length > 0) {
      throw new FrameScriptError(`expected no frame on ${nic.name} at t=${this.now}, got ${nic.outbox.length}:\n  ` +
        nic.outbox.map((f) => describeFrame(f.frame)).join('\n  '));
    }
    return this;
  }

  /** Takes every frame sent so far on a NIC. */
  recvAll(options: { nic?: string } = {}): Uint8Array[] {
    this.settle();
    return this.nic(options.nic).outbox.splice(0).map((f) => f.frame);
  }

  /** Drops every pending output frame (all NICs). */
  discardAll(): this {
    for (const n of this.nics.values()) n.outbox.length = 0;
    return this;
  }

  /** Every frame in and out so far, described (for debugging a failing test). */
  transcript(): string {
    const lines: string[] = [];
    for (const [name, n] of this.nics) for (const h of n.history) lines.push(`${h.time.toFixed(3)} ${name} ${h.direction === 'in' ? '<' : '>'} ${describeFrame(h.frame)}`);
    return lines.join('\n');
  }
}

function describeExpected(e: Uint8Array | FrameMatch): string {
  if (e instanceof Uint8Array) return describeFrame(e);
  return JSON.stringify(e, (k, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : typeof v === 'function' ? '<check>' : (k.endsWith('Mac') || (k === 'dst' || k === 'src') && typeof v === 'number' && v > 0xffffffff) ? formatMac(v) : v));
}

function diffBytes(got: Uint8Array, want: Uint8Array, ignoreIpId: boolean): string[] {
  let w = want;
  if (ignoreIpId) {
    const eg = parseEthernet(got, 0, got.length);
    const ew = parseEthernet(want, 0, want.length);
    if (typeof eg !== 'string' && typeof ew !== 'string' && eg.etherType === ETHERTYPE_IPV4 && ew.etherType === ETHERTYPE_IPV4 &&
      got.length >= eg.headerLength + 20 && want.length >= ew.headerLength + 20) {
      w = Uint8Array.from(want);
      w[ew.headerLength + 4] = got[eg.headerLength + 4];
      w[ew.headerLength + 5] = got[eg.headerLength + 5];
      setIpv4Checksum(w, ew.headerLength, (w[ew.headerLength] & 0x0f) * 4);
    }
  }
  const out: string[] = [];
  if (got.length !== w.length) out.push(`length: expected ${w.length}, got ${got.length}`);
  const n = Math.min(got.length, w.length);
  for (let i = 0; i < n && out.length < 8; i++) {
    if (got[i] !== w[i]) out.push(`byte ${i}: expected 0x${w[i].toString(16).padStart(2, '0')}, got 0x${got[i].toString(16).padStart(2, '0')}`);
  }
  if (out.length) out.push(`got bytes:\n${hex(got, 128)}`);
  return out;
}
