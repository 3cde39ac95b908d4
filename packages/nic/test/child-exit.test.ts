/** childDone: a child's output is whole when it resolves, and a grandchild holding the pipe cannot hang it. */
import test from 'ava';
import { spawn } from 'node:child_process';
import { childDone } from '../src';

test('childDone resolves after the output is drained: every byte of 4 MB written just before exit is read', async (t) => {
  const child = spawn(process.execPath, ['-e', `process.stdout.write('x'.repeat(4 << 20)); process.stdout.write('END\\n', () => process.exit(7));`],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let n = 0;
  let tail = '';
  child.stdout.on('data', (d: Buffer) => { n += d.length; tail = (tail + d.toString('latin1')).slice(-4); });
  const r = await childDone(child);
  t.is(r.code, 7);
  t.is(r.signal, null);
  t.is(n, (4 << 20) + 4);
  t.is(tail, 'END\n');
});

test('childDone gives up on the pipe a grandchild keeps open, once the child itself has exited', async (t) => {
  // The grandchild inherits stdout and sleeps; the child exits at once.
  const child = spawn(process.execPath, ['-e',
    `const g = require('child_process').spawn('sleep', ['60'], { stdio: ['ignore', 'inherit', 'inherit'], detached: true }); console.log('G=' + g.pid); g.unref();`],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const guard = setTimeout(() => t.fail('childDone waited for the grandchild'), 30_000);
  const r = await childDone(child, 200);
  clearTimeout(guard);
  t.is(r.code, 0);
  const pid = Number(/G=(\d+)/.exec(out)?.[1]);
  t.true(pid > 0, out);
  process.kill(pid, 'SIGKILL');
});
