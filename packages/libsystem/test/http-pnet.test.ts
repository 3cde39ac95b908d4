// The HTTP contract through @pnet/http (its client, server and WebSocket), over a StreamTransport on node:net.
import { streamBackends } from '../src';
import { httpSuite } from './helpers/http-suite';
import { dgramBackend, netTransport } from './helpers/node-backends';

httpSuite(() => ({ ...streamBackends(netTransport()), datagrams: dgramBackend() }));
