/**
 * `pnpm soak [-- --size MiB] [--connections N] [--duration ms] [--tap-size MiB] [--only sim|http|tap]`: the full-size soaks.
 * - sim: 1 GiB each way over a SimLink under the heavy impairment mix (HEAVY_IMPAIRMENTS), identical SHA-256,
 *   longest stall under STALL_BOUND_MS of virtual time, nothing left in the connection tables or on the clock.
 * - http: 1,000 concurrent connections of mixed HTTP work for 10 s of virtual time, every response checked.
 * - tap: 8 MiB each way with the Linux kernel over TAP (root), through a SimLink with the heavy mix, plus netem on
 *   the kernel side when the kernel has sch_netem.
 * Exit code 1 when a check fails.
 */
import { runSimSoak, HEAVY_IMPAIRMENTS } from './sim-soak';
import { runHttpSoak } from './http-soak';
import { runTapSoak } from './tap-soak';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : '';
const STALL_BOUND_MS = 120_000; // the RTO ceiling (maxRto): no stall may outlast one fully backed-off retransmission
let failed = 0;
const check = (ok: boolean, what: string) => { console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); if (!ok) failed++; };

async function main(): Promise<void> {
  if (!only || only === 'sim') {
    const size = arg('size', 1024) * 1024 * 1024;
    console.log(`sim soak: ${size} bytes each way, impairments ${JSON.stringify(HEAVY_IMPAIRMENTS)}`);
    const t0 = process.hrtime.bigint();
    let heapPeak = 0;
    const r = runSimSoak({ size, seed: arg('seed', 1), onProgress: (p) => {
      heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
      if (Math.floor(p.now / 1000) % 600 === 0) console.log(`  t=${(p.now / 1000).toFixed(0)} s  a->b ${p.aToB}  b->a ${p.bToA}`);
    } });
    const real = Number(process.hrtime.bigint() - t0) / 1e9;
    check(r.receivedAB === size && r.receivedHashAB === r.sentHashAB, `a->b ${r.receivedAB} bytes, sha256 ${r.receivedHashAB}`);
    check(r.receivedBA === size && r.receivedHashBA === r.sentHashBA, `b->a ${r.receivedBA} bytes, sha256 ${r.receivedHashBA}`);
    check(r.clientError === null && r.serverError === null && r.clientClosed && r.serverClosed, `clean close (${r.clientError}/${r.serverError})`);
    check(r.longestStallMs < STALL_BOUND_MS, `longest stall ${(r.longestStallMs / 1000).toFixed(2)} s (bound ${STALL_BOUND_MS / 1000} s) at t=${(r.longestStallAt / 1000).toFixed(0)} s`);
    check(r.connectionsAfter === 0 && r.pendingEventsAfter === 0, `after: ${r.connectionsAfter} connections, ${r.pendingEventsAfter} clock events`);
    console.log(`  virtual ${(r.virtualMs / 1000).toFixed(0)} s, real ${real.toFixed(0)} s, heap peak ${(heapPeak / 2 ** 20).toFixed(0)} MiB; ` +
      `retransmits ${r.retransmits}, timeouts ${r.timeouts}, fast ${r.fastRetransmits}; link ${JSON.stringify(r.link)}`);
  }
  if (!only || only === 'http') {
    const connections = arg('connections', 1000);
    const duration = arg('duration', 10_000);
    console.log(`http soak: ${connections} connections for ${duration} ms of virtual time`);
    const t0 = process.hrtime.bigint();
    // 1,000 clients connect in the same millisecond: the default SYN queue (128, no SYN cookies) would drop most of
    // their SYNs and their backed-off retries outlast the client's 30 s connect timeout; a server expecting this many
    // clients sizes its queue (--syn-queue 128 shows the default behaviour).
    const r = await runHttpSoak({ connections, duration, seed: arg('seed', 1), serverTcp: { synQueueLength: arg('syn-queue', connections) } });
    const real = Number(process.hrtime.bigint() - t0) / 1e9;
    check(r.failures.length === 0, `every response correct (${r.failures.slice(0, 5).join('; ')})`);
    check(r.maxConcurrentConnections === connections, `peak concurrent connections ${r.maxConcurrentConnections}`);
    check(r.connectionsAfter === 0 && r.pendingEventsAfter === 0, `after: ${r.connectionsAfter} connections, ${r.pendingEventsAfter} clock events`);
    console.log(`  ${r.requests} requests, ${r.bytes} bytes, virtual ${(r.virtualMs / 1000).toFixed(1)} s, real ${real.toFixed(0)} s, server ${JSON.stringify(r.serverStats)}, listen overflows ${r.listenOverflows}`);
  }
  if (!only || only === 'tap') {
    if (process.getuid?.() !== 0) {
      console.log('*** SKIPPING tap soak: needs root ***');
    } else {
      const size = arg('tap-size', 8) * 1024 * 1024;
      console.log(`tap soak: ${size} bytes each way with the kernel`);
      const t0 = process.hrtime.bigint();
      const r = await runTapSoak(null, size, { ...HEAVY_IMPAIRMENTS, delay: 1, jitter: 0.5 });
      const real = Number(process.hrtime.bigint() - t0) / 1e9;
      check(r.sinkReport === `${size} ${r.sentHash}`, `kernel received ${r.sinkReport}`);
      check(r.received === size && r.sourceReport.includes(`source ${size} ${r.receivedHash}`), `we received ${r.received} bytes, sha256 ${r.receivedHash}`);
      check(r.connectionsAfter === 0, `after: ${r.connectionsAfter} connections`);
      console.log(`  netem ${r.netem}; real ${real.toFixed(0)} s; longest stall ${r.longestStallMs} ms (real time); tcp ${JSON.stringify(r.tcp)}`);
    }
  }
  console.log(failed ? `${failed} check(s) failed` : 'all soak checks passed');
  process.exitCode = failed ? 1 : 0;
}
void main();
