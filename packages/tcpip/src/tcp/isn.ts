import { createHmac } from 'node:crypto';
import type { Rng } from '@pnet/nic';
import { SeqNum, seq } from './seq';

/**
 * RFC 6528 initial sequence numbers: ISN = M + F(localip, localport, remoteip, remoteport, key),
 * M a 4-microsecond clock, F a keyed PRF (HMAC-SHA-256 truncated to 32 bits) with a key drawn
 * once from the stack's Rng. Distinct connections get unrelated ISNs; the same 4-tuple's ISNs
 * keep increasing with time, as the quiet-time and TIME-WAIT rules expect.
 */
export class IsnGenerator {
  private readonly key: Buffer;
  private readonly input = Buffer.alloc(12);

  constructor(rng: Rng) {
    this.key = Buffer.from(rng.fill(new Uint8Array(16)));
  }

  next(nowMs: number, localIp: number, localPort: number, remoteIp: number, remotePort: number): SeqNum {
    const b = this.input;
    b.writeUInt32BE(localIp >>> 0, 0);
    b.writeUInt32BE(remoteIp >>> 0, 4);
    b.writeUInt16BE(localPort, 8);
    b.writeUInt16BE(remotePort, 10);
    const f = createHmac('sha256', this.key).update(b).digest().readUInt32BE(0);
    const m = Math.floor(nowMs * 250) % 4294967296;
    return seq(f + m);
  }
}
