// packages/nic/scripts/testhost.sh: the by-hand test host. Needs root (skips loudly without; fails with CI=true).
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { childDone, namespaceExists, requireRoot } from '../src';

const rootTest = requireRoot(test);
const ROOT = path.resolve(__dirname, '..', '..', '..');
const SCRIPT = path.join(ROOT, 'packages', 'nic', 'scripts', 'testhost.sh');
const TS_NODE = require.resolve('ts-node/register/transpile-only');

function sh(...args: string[]): { code: number | null; out: string } {
  const r = spawnSync(SCRIPT, args, { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

rootTest('up, exec and down: a namespace with a persistent TAP that a pnet process inside attaches to by name', async (t) => {
  const name = `t${process.pid.toString(36)}`;
  const ns = `pnet-sh-${name}`;
  t.teardown(() => { sh('down', name); });
  const up = sh('up', name, '203.0.113.1/24', 'pnet7');
  t.is(up.code, 0, up.out);
  t.true(namespaceExists(ns));
  t.regex(sh('exec', name, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'pnet7').out, /203\.0\.113\.1\/24/);
  t.is(sh('up', name).code, 1, 'a second up of the same name is refused');
  t.regex(sh('list').out, new RegExp(`^${ns}`, 'm'));

  // A pnet program run inside the namespace opens the persistent TAP by name; the kernel answers its ARP request.
  const program = `
    const { TapNic, parseMac } = require(${JSON.stringify(path.join(ROOT, 'packages', 'nic', 'src'))});
    const nic = TapNic.open({ name: 'pnet7', mac: parseMac('02:00:00:00:00:02'), keepAlive: true });
    nic.onReceive(() => {
      for (let v = nic.rx.peek(); v; v = nic.rx.peek()) {
        if (v.data[12] === 8 && v.data[13] === 6 && v.data[21] === 2) { console.log('REPLY from ' + [...v.data.subarray(28, 32)].join('.')); nic.close(); }
        nic.rx.release();
      }
    });
    const f = new Uint8Array(60);
    f.set([255,255,255,255,255,255, 2,0,0,0,0,2, 8,6, 0,1, 8,0, 6,4, 0,1, 2,0,0,0,0,2, 203,0,113,2, 0,0,0,0,0,0, 203,0,113,1]);
    console.log('IF ' + nic.ifname + ' sent ' + nic.transmit(f));
    // Asked again until answered, as ARP does: the kernel turns the TAP's queue on only once its link
    // watcher has seen the carrier come up (up to a second after we attach), and drops a reply before that.
    const again = setInterval(() => nic.transmit(f), 250);
    nic.whenClosed.then(() => clearInterval(again));
    setTimeout(() => { console.log('no reply'); process.exit(3); }, 120000).unref();
    nic.whenClosed.then(() => process.exit(0));
  `;
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(SCRIPT, ['exec', name, process.execPath, '-r', TS_NODE, '-e', program], {
      cwd: ROOT, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    void childDone(child).then(({ code }) => resolve({ code, out }));
  });
  t.is(r.code, 0, r.out);
  t.regex(r.out, /IF pnet7 sent true/);
  t.regex(r.out, /REPLY from 203\.0\.113\.1/);
  // Persistent: the TAP outlives the program that used it.
  t.is(sh('exec', name, 'ip', 'link', 'show', 'pnet7').code, 0);

  const down = sh('down', name);
  t.is(down.code, 0, down.out);
  t.false(namespaceExists(ns));
});

rootTest('testhost.sh refuses addresses outside the TEST-NETs and bad names', (t) => {
  const bad = sh('up', `b${process.pid.toString(36)}`, '10.0.0.1/24');
  t.is(bad.code, 1);
  t.regex(bad.out, /not in a TEST-NET/);
  t.false(namespaceExists(`pnet-sh-b${process.pid.toString(36)}`));
  const badName = sh('up', 'no/slash');
  t.is(badName.code, 1);
  t.regex(badName.out, /NAME must be/);
  t.is(sh('down', `nosuch${process.pid.toString(36)}`).code, 1);
});
