import type { Duplex, Readable } from 'node:stream';

/** Resolves when `socket` can take more writes, or has closed (then false). */
export function waitDrain(socket: Duplex): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed || socket.writableEnded) return resolve(false);
    const done = (ok: boolean) => {
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    socket.on('drain', onDrain);
    socket.on('close', onClose);
  });
}

/** Reads a stream to its end into one Buffer; rejects past `limit` bytes (then destroys the stream). */
export function collect(stream: Readable, limit = Infinity): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (err) reject(err);
      else resolve(Buffer.concat(parts, size));
    };
    const onData = (d: Buffer | string) => {
      const b = typeof d === 'string' ? Buffer.from(d) : d;
      size += b.length;
      if (size > limit) {
        const err = Object.assign(new Error(`body exceeds ${limit} bytes`), { code: 'HTTP_BODY_TOO_LARGE' });
        finish(err);
        stream.destroy();
        return;
      }
      parts.push(b);
    };
    const onEnd = () => finish(null);
    const onError = (e: Error) => finish(e);
    const onClose = () => finish(Object.assign(new Error('body stream closed before its end'), { code: 'HTTP_ABORTED' }));
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
    if ((stream as { errored?: Error | null }).errored) finish((stream as { errored: Error }).errored);
    else if (stream.readableEnded) finish(null);
  });
}

export function toBuffer(data: string | Uint8Array): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
