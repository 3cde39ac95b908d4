// The HTTP contract through node:http as the exchange backend, over a StreamTransport on node:net.
import { httpSuite } from './helpers/http-suite';
import { nodeBackends } from './helpers/node-backends';

httpSuite(() => nodeBackends());
