import type { MacAddress } from './mac-address';
import type { FrameRing } from '../ring/frame-ring';

/**
 * Checksum offload for one protocol. `true` means the NIC does the work, so the
 * stack may skip it: `tx` — the NIC fills in checksums of outgoing packets;
 * `rx` — the NIC has verified checksums of incoming packets.
 */
export interface ChecksumOffload {
  readonly tx: boolean;
  readonly rx: boolean;
}

export interface NicCapabilities {
  /** IP MTU: the largest Ethernet payload, e.g. 1500. */
  readonly mtu: number;
  readonly mac: MacAddress;
  readonly checksum: {
    readonly ipv4: ChecksumOffload;
    readonly tcp: ChecksumOffload;
    readonly udp: ChecksumOffload;
    readonly icmp: ChecksumOffload;
  };
  /** How many frames the stack should handle in one poll before yielding. */
  readonly maxBurst: number;
  /**
   * TCP segmentation offload (TSO): the largest IPv4 packet (total length) the NIC takes for one
   * TCP segment it cuts into wire-sized segments itself (`transmit`'s `segmentSize`). Absent or 0: none.
   */
  readonly tsoMaxBytes?: number;
}

export interface NicCounters {
  rxPackets: number;
  rxBytes: number;
  /** Frames lost on receive: ring full, link down. */
  rxDrops: number;
  /** Frames received broken: too long, too short. */
  rxErrors: number;
  txPackets: number;
  txBytes: number;
  /** Frames not sent: link down, queue full. */
  txDrops: number;
  /** Frames refused: larger than the MTU allows, write errors. */
  txErrors: number;
}

export type FrameDirection = 'rx' | 'tx';

/** Sees every frame a NIC receives or sends (pcap writers, tracers). The frame is only borrowed. */
export type FrameTap = (direction: FrameDirection, frame: Uint8Array, length: number, timestamp: number) => void;

/**
 * A network interface card: the only thing the stack above knows about the
 * medium. Received frames wait in `rx` (read in place, no copies); frames are
 * sent with `transmit`, which copies what it needs before returning.
 */
export interface Nic {
  readonly name: string;
  readonly capabilities: NicCapabilities;
  readonly counters: NicCounters;
  /** Received frames, oldest first, each with its ingress timestamp. */
  readonly rx: FrameRing;
  /** Link state: false when administratively down or when the medium is gone. */
  readonly linkUp: boolean;
  /** Largest frame this NIC sends or accepts: MTU + Ethernet header + one VLAN tag. */
  readonly maxFrameSize: number;

  /** Sets the administrative state; a down NIC neither sends nor receives. */
  setLinkUp(up: boolean): void;
  /**
   * A scratch buffer of `maxFrameSize` bytes owned by the NIC, to build a frame
   * in without allocating; pass it to `transmit`. Valid until the next call.
   */
  txBuffer(): Uint8Array;
  /**
   * Sends the first `length` bytes of `frame`. Returns false when the frame was dropped (and counted).
   * With TSO (`capabilities.tsoMaxBytes`), an IPv4 TCP frame may exceed `maxFrameSize`: the NIC cuts its
   * payload into `segmentSize`-byte segments (0: as many as the MTU allows) and completes the TCP checksums.
   */
  transmit(frame: Uint8Array, length?: number, segmentSize?: number): boolean;
  /**
   * Per-frame receive checksum offload: true when the NIC (or the kernel behind it) vouches for the
   * TCP/UDP checksum of the received frame in ring slot `frame` (a view from `rx.peek()`), which then
   * must not be verified (it may even be partial). Absent: per-protocol `capabilities.checksum` only.
   */
  rxChecksumOk?(frame: Uint8Array): boolean;
  /** Called (synchronously) after frames are added to `rx`. Returns a function that removes the listener. */
  onReceive(listener: () => void): () => void;
  /** Called when `linkUp` changes. */
  onLinkChange(listener: (up: boolean) => void): () => void;
  /** Adds a tap that sees every frame in both directions. Returns a function that removes it. */
  addTap(tap: FrameTap): () => void;
  /** Releases the device; afterwards the NIC neither sends nor receives. Idempotent. */
  close(): void;
}

/**
 * Counters are bumped per frame: as a class every NIC's share one hidden class for the life of the
 * process (an object literal got a new one whenever V8 flushed the cold code that built it, and
 * the next Stack's hot paths deoptimised on the new map).
 */
class Counters implements NicCounters {
  rxPackets = 0;
  // Byte counts pass 2^30 (the Smi range) on a long run: double from the start, not generalised mid-run.
  rxBytes = 0.5;
  rxDrops = 0;
  rxErrors = 0;
  txPackets = 0;
  txBytes = 0.5;
  txDrops = 0;
  txErrors = 0;
  constructor() {
    this.rxBytes = 0;
    this.txBytes = 0;
  }
}

export function newCounters(): NicCounters {
  return new Counters();
}

const NO_OFFLOAD: ChecksumOffload = Object.freeze({ tx: false, rx: false });

export function defaultCapabilities(mac: MacAddress, mtu = 1500, overrides: Partial<NicCapabilities> = {}): NicCapabilities {
  return {
    mtu,
    mac,
    checksum: { ipv4: NO_OFFLOAD, tcp: NO_OFFLOAD, udp: NO_OFFLOAD, icmp: NO_OFFLOAD },
    maxBurst: 64,
    ...overrides,
  };
}

/** Ethernet header (14) plus one 802.1Q tag (4). */
export const ETHERNET_OVERHEAD = 18;
