import test from 'ava';
import fc from 'fast-check';
import { ByteBuffer } from '../src/handles/byte-buffer';
import { MessageQueue } from '../src/handles/message-queue';
import { parseReadMode, parseReadModes } from '../src/handles/read-modes';

const take = (b: ByteBuffer, mode: string | number, ended = true) => {
  const r = b.take(parseReadMode(mode), ended);
  if (r === 'wait') return 'wait';
  return Buffer.isBuffer(r.value) ? r.value.toString('latin1') : r.value;
};

test('modes parse with or without *, numbers are byte counts (Phoenix threw on numbers)', (t) => {
  t.deepEqual(parseReadMode('*a'), { kind: 'a' });
  t.deepEqual(parseReadMode('a'), { kind: 'a' });
  t.deepEqual(parseReadMode('*L'), { kind: 'L' });
  t.deepEqual(parseReadMode('n'), { kind: 'n' });
  t.deepEqual(parseReadMode(undefined), { kind: 'l' });
  t.deepEqual(parseReadMode(5), { kind: 'count', count: 5 });
  t.deepEqual(parseReadModes([]), [{ kind: 'l' }]);
  t.throws(() => parseReadMode('*all'), { message: "bad argument (invalid mode 'all')" });
  t.throws(() => parseReadMode('x'), { message: "bad argument (invalid mode 'x')" });
  t.throws(() => parseReadMode(-1), { message: "bad argument (invalid mode '-1')" });
  t.throws(() => parseReadMode(1.5), { message: "bad argument (invalid mode '1.5')" });
  t.throws(() => parseReadMode(true), { message: 'bad argument (expected string or number, got boolean)' });
  t.throws(() => parseReadMode({}), { message: 'bad argument (expected string or number, got table)' });
});

test('buffered reads (sockets): what is there, null when nothing is', (t) => {
  const b = new ByteBuffer();
  t.is(take(b, 'l'), null);
  t.is(take(b, 'a'), null);
  t.is(take(b, 3), null);
  b.append(Buffer.from('ab\ncd'));
  b.append(Buffer.from('\n\nx 12.5e1y -7'));
  t.is(take(b, 'l'), 'ab');
  t.is(take(b, 'L'), 'cd\n');
  t.is(take(b, 'l'), '');
  t.is(take(b, 'n'), 125);
  t.is(take(b, 1), 'y');
  t.is(take(b, 'n'), -7);
  t.is(take(b, 'n'), null);
  b.append(Buffer.from('no number'));
  t.is(take(b, 'n'), null);
  t.is(take(b, 0), '');
  t.is(take(b, 100), 'no number', 'a count returns what is there');
  t.is(take(b, 0), null, 'zero at the end is null');
});

test('waiting reads (HTTP bodies): wait until the mode can be satisfied or the body ended', (t) => {
  const b = new ByteBuffer();
  b.append(Buffer.from('12'));
  t.is(take(b, 'l', false), 'wait');
  t.is(take(b, 'n', false), 'wait', 'more digits may follow');
  t.is(take(b, 3, false), 'wait');
  t.is(take(b, 'a', false), 'wait');
  b.append(Buffer.from('3\nrest'));
  t.is(take(b, 'n', false), 123);
  t.is(take(b, 'l', false), '');
  t.is(take(b, 2, false), 're');
  t.is(take(b, 'l', false), 'wait');
  t.is(take(b, 'l', true), 'st');
  t.is(take(b, 'a', true), null);
});

test('any chunking of the same bytes reads the same lines', (t) => {
  fc.assert(
    fc.property(fc.array(fc.string({ unit: fc.constantFrom('a', 'b', '\n') }), { maxLength: 8 }), (pieces) => {
      const b = new ByteBuffer();
      for (const p of pieces) b.append(Buffer.from(p, 'latin1'));
      const lines: string[] = [];
      for (let v = take(b, 'L'); v !== null; v = take(b, 'L')) lines.push(v as string);
      return lines.join('') === pieces.join('') && lines.slice(0, -1).every((l) => l.endsWith('\n'));
    }),
  );
  t.pass();
});

test('message queues keep message edges', (t) => {
  const q = new MessageQueue(2);
  t.is(q.read(parseReadModes(['*a']), 'text'), null);
  q.push(Buffer.from('one\ntwo'));
  q.push(Buffer.from(''));
  t.deepEqual(q.read(parseReadModes(['l', 'l']), 'text'), ['one', 'two']);
  t.is(q.read(parseReadModes(['*a']), 'text'), '', 'an empty message reads as an empty string');
  t.is(q.read(parseReadModes(['*a']), 'text'), null);
  q.push(Buffer.from('abc'));
  q.push(Buffer.from('def'));
  t.deepEqual(q.read(parseReadModes([5]), 'binary'), Buffer.from('abc'), 'a count stops at the message end');
  q.push(Buffer.from('ghi'));
  q.push(Buffer.from('jkl'));
  t.is(q.dropped, 1, 'the oldest message goes when the queue is full');
  t.deepEqual(q.read(parseReadModes(['a', 'a', 'a']), 'text'), ['ghi', 'jkl', null]);
});
