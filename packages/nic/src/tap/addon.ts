import * as fs from 'node:fs';
import * as path from 'node:path';

/** An open TAP device inside the addon (an N-API external). */
export type TapHandle = { readonly __brand: 'TapHandle' };

/** The native addon's functions (packages/nic/native/tap.c). */
export interface TapAddon {
  /** `offload`: IFF_VNET_HDR, partial checksums and TCPv4 GSO both ways (see tap.c). */
  open(name: string, offload?: boolean): [TapHandle, string];
  dupFd(handle: TapHandle): number;
  adopt(fd: number): TapHandle;
  start(handle: TapHandle, onReadable: (status: number) => void): void;
  setRef(handle: TapHandle, keepAlive: boolean): void;
  bindRing(handle: TapHandle, bytes: Uint8Array, dataOffset: number, stride: number, slotSize: number, slots: number, minFrame: number): void;
  readBatch(handle: TapHandle, startSlot: number, max: number, lens: Int32Array, status: Int32Array, flags?: Int32Array): number;
  discard(handle: TapHandle, max: number): number;
  write(handle: TapHandle, frame: Uint8Array, length: number, gsoSize?: number): number;
  setWireMtu(handle: TapHandle, mtu: number): void;
  setCompleteRx(handle: TapHandle, on: boolean): void;
  completeChecksum(frame: Uint8Array, length: number): void;
  close(handle: TapHandle): void;
  setMtu(ifname: string, mtu: number): void;
  fd(handle: TapHandle): number;
}

/** Thrown when the TAP backend cannot work here; `reason` says why in one line. */
export class TapUnavailableError extends Error {
  constructor(readonly reason: string, readonly code: string) {
    super(`TapNic unavailable: ${reason}`);
    this.name = 'TapUnavailableError';
  }
}

const ADDON_IN_PACKAGE = path.join('native', 'build', 'Release', 'pnet_tap.node');

/**
 * Where the addon is: $PNET_TAP_ADDON, else the node-gyp output in this
 * package (src/tap/ -> ../../native; from a compiled dist/ tree, found by
 * walking up to the package that has it).
 */
export function tapAddonPath(): string {
  if (process.env.PNET_TAP_ADDON) return process.env.PNET_TAP_ADDON;
  const direct = path.resolve(__dirname, '..', '..', ADDON_IN_PACKAGE);
  if (fs.existsSync(direct)) return direct;
  for (let dir = __dirname, i = 0; i < 8; i++, dir = path.dirname(dir)) {
    for (const candidate of [path.join(dir, ADDON_IN_PACKAGE), path.join(dir, 'packages', 'nic', ADDON_IN_PACKAGE)]) {
      if (fs.existsSync(candidate)) return candidate;
    }
  }
  return direct;
}

let cached: TapAddon | TapUnavailableError | undefined;

/** Loads the addon once; throws a TapUnavailableError saying why it cannot. */
export function loadTapAddon(): TapAddon {
  if (cached === undefined) cached = tryLoad();
  if (cached instanceof TapUnavailableError) throw cached;
  return cached;
}

function tryLoad(): TapAddon | TapUnavailableError {
  if (process.platform !== 'linux') {
    return new TapUnavailableError(`TAP devices need Linux; this is ${process.platform}`, 'ENOTLINUX');
  }
  const file = tapAddonPath();
  if (!fs.existsSync(file)) {
    return new TapUnavailableError(
      `the native addon is not built (${file} is missing): run \`node packages/nic/native/build.js\` ` +
      '(needs node-gyp, a C compiler, make, python3 and the Node headers)', 'ENOADDON');
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file) as TapAddon;
  } catch (e) {
    return new TapUnavailableError(`the native addon ${file} does not load: ${(e as Error).message}; rebuild it with \`node packages/nic/native/build.js --force\``, 'EADDONLOAD');
  }
}

/** Turns an errno error from the addon's open() into a message that says what to do. */
export function explainOpenError(e: NodeJS.ErrnoException, name: string): TapUnavailableError | Error {
  switch (e.code) {
    case 'ENOENT':
      return new TapUnavailableError('/dev/net/tun does not exist (load the tun module: `modprobe tun`; in a container, pass --device /dev/net/tun)', 'ENOTUN');
    case 'EACCES':
      return new TapUnavailableError('no permission to open /dev/net/tun (run as root, or give Node CAP_NET_ADMIN)', 'EACCES');
    case 'EPERM':
      return new TapUnavailableError(`not allowed to create TAP device ${JSON.stringify(name)}: needs root or CAP_NET_ADMIN`, 'EPERM');
    case 'EBUSY':
      return new Error(`TapNic: TAP device ${JSON.stringify(name)} is busy (another process has it open, or it is not a TAP device)`);
    case 'EINVAL':
      return new Error(`TapNic: the kernel refused TAP device ${JSON.stringify(name)} (${e.message}); is that name a non-TAP interface?`);
    default:
      return new TapUnavailableError(`cannot open TAP device ${JSON.stringify(name)}: ${e.message}`, e.code ?? 'EUNKNOWN');
  }
}
