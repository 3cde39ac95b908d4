#!/usr/bin/env node
// The `pnet` command: TypeScript sources through a small caching loader (see ts-cache.js).
'use strict';
require('./ts-cache');
require('../src/pnet.ts');
