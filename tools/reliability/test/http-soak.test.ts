/**
 * Scaled-down HTTP soak (`pnpm soak` runs 1,000 connections): 200 concurrent keep-alive connections doing mixed,
 * checkable HTTP work over pnet TCP on a lossy SimLink; afterwards no connection and no timer is left.
 */
import test from 'ava';
import { runHttpSoak } from '../src/http-soak';

test('http soak: 200 concurrent connections, mixed requests for 500 ms of virtual time, every response correct, nothing leaked', async (t) => {
  const r = await runHttpSoak({ connections: 200, duration: 500, seed: 3 });
  t.deepEqual(r.failures, []);
  t.true(r.requests >= 400, `requests ${r.requests}`);
  t.is(r.maxConcurrentConnections, 200, 'all 200 connections were open at once');
  t.is(r.connectionsAfter, 0, 'connection tables empty');
  t.is(r.pendingEventsAfter, 0, 'no timers left on the clock');
  t.log(`requests ${r.requests}, bytes ${r.bytes}, peak connections ${r.maxConcurrentConnections}/${r.serverConnectionsPeak}, virtual ${r.virtualMs.toFixed(0)} ms, server ${JSON.stringify(r.serverStats)}`);
});
