/**
 * A 48-bit Ethernet address held in a plain number (exact in float64), so it
 * compares with `===`, keys a Map and costs no allocation.
 */
export type MacAddress = number & { readonly __brand: 'MacAddress' };

export const BROADCAST_MAC = 0xffffffffffff as MacAddress;
export const ZERO_MAC = 0 as MacAddress;

const TWO_32 = 4294967296;

export function readMac(buf: Uint8Array, offset: number): MacAddress {
  const lo = buf[offset + 2] << 24 | buf[offset + 3] << 16 | buf[offset + 4] << 8 | buf[offset + 5];
  // Not `lo >>> 0`: its feedback stays "small integer" until the first address with bit 31 set (the
  // broadcast a new Stack's ARP sends), which then deoptimised the whole inlined receive path. These
  // additions are double operations from the first call, and no operation sits in a branch that
  // only such an address takes (that would deoptimise the same way, for want of feedback).
  return ((buf[offset] << 8 | buf[offset + 1]) * TWO_32 + lo + (lo < 0 ? TWO_32 : 0)) as MacAddress;
}

export function writeMac(buf: Uint8Array, offset: number, mac: MacAddress): void {
  const hi = Math.floor(mac / TWO_32);
  const lo = mac >>> 0;
  buf[offset] = hi >>> 8;
  buf[offset + 1] = hi & 0xff;
  buf[offset + 2] = lo >>> 24;
  buf[offset + 3] = (lo >>> 16) & 0xff;
  buf[offset + 4] = (lo >>> 8) & 0xff;
  buf[offset + 5] = lo & 0xff;
}

/** Parses `02:00:00:00:00:01` (or with `-`). Throws a clear error on anything else. */
export function parseMac(text: string): MacAddress {
  const m = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(text);
  if (!m) throw new TypeError(`invalid MAC address: ${JSON.stringify(text)}`);
  let v = 0;
  for (let i = 1; i <= 6; i++) v = v * 256 + parseInt(m[i], 16);
  return v as MacAddress;
}

export function formatMac(mac: MacAddress): string {
  const out: string[] = [];
  let v: number = mac;
  for (let i = 0; i < 6; i++) {
    out.unshift((v % 256).toString(16).padStart(2, '0'));
    v = Math.floor(v / 256);
  }
  return out.join(':');
}

export function isMulticastMac(mac: MacAddress): boolean {
  return (Math.floor(mac / 2 ** 40) & 1) === 1;
}

/** A locally administered unicast MAC (02:xx:...), e.g. for simulated hosts. */
export function localMac(id: number): MacAddress {
  return (0x020000000000 + (id % 2 ** 40)) as MacAddress;
}
