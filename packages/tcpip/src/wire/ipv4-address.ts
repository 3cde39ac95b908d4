/**
 * An IPv4 address held as an unsigned 32-bit number: compares with `===`,
 * keys a Map, costs no allocation.
 */
export type Ipv4Address = number & { readonly __brand: 'Ipv4Address' };

export const IPV4_ANY = 0 as Ipv4Address;
export const IPV4_BROADCAST = 0xffffffff as Ipv4Address;
export const IPV4_LOOPBACK = 0x7f000001 as Ipv4Address;

export function ipv4(a: number, b: number, c: number, d: number): Ipv4Address {
  return (((a & 0xff) << 24) | ((b & 0xff) << 16) | ((c & 0xff) << 8) | (d & 0xff)) >>> 0 as Ipv4Address;
}

/** Parses dotted-quad text; throws a clear error on anything else. */
export function parseIpv4(text: string): Ipv4Address {
  const v = tryParseIpv4(text);
  if (v === null) throw new TypeError(`invalid IPv4 address: ${JSON.stringify(text)}`);
  return v;
}

export function tryParseIpv4(text: string): Ipv4Address | null {
  if (typeof text !== 'string') return null;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const n = Number(m[i]);
    if (n > 255 || (m[i].length > 1 && m[i][0] === '0')) return null;
    v = v * 256 + n;
  }
  return v as Ipv4Address;
}

export function formatIpv4(addr: Ipv4Address | number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

export function readIpv4(buf: Uint8Array, offset: number): Ipv4Address {
  return ((buf[offset] << 24) | (buf[offset + 1] << 16) | (buf[offset + 2] << 8) | buf[offset + 3]) >>> 0 as Ipv4Address;
}

export function writeIpv4(buf: Uint8Array, offset: number, addr: Ipv4Address): void {
  buf[offset] = addr >>> 24;
  buf[offset + 1] = (addr >>> 16) & 0xff;
  buf[offset + 2] = (addr >>> 8) & 0xff;
  buf[offset + 3] = addr & 0xff;
}

/** The netmask for a prefix length 0..32. */
export function prefixToMask(prefix: number): number {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new RangeError(`invalid prefix length: ${prefix}`);
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** The prefix length of a contiguous netmask, or -1 when the mask is not contiguous. */
export function maskToPrefix(mask: number): number {
  mask >>>= 0;
  let prefix = 0;
  while (prefix < 32 && (mask & (0x80000000 >>> prefix)) !== 0) prefix++;
  return prefixToMask(prefix) === mask ? prefix : -1;
}

export function inSubnet(addr: Ipv4Address, network: Ipv4Address, prefix: number): boolean {
  const mask = prefixToMask(prefix);
  return ((addr & mask) >>> 0) === ((network & mask) >>> 0);
}

export function isMulticastIpv4(addr: Ipv4Address): boolean {
  return addr >>> 28 === 0xe;
}
