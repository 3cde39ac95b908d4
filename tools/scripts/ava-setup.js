// Loaded into every ava worker. A test file that leaves something running (a timer, a
// server, a pumping virtual clock) would keep its worker alive and ava would wait for it
// forever: the whole run would hang until CI's time limit. Once a file's tests are done,
// give it a few seconds to exit on its own, then name what is still open and end it.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const stateFile = fs.realpathSync(path.join(__dirname, '..', '..', 'node_modules', 'ava', 'lib', 'worker', 'state.cjs'));
const state = require(stateFile);
state.completionHandlers.push(() => {
  const timer = setTimeout(() => {
    const open = process._getActiveHandles().map((h) => (h && h.constructor ? h.constructor.name : typeof h));
    process.stderr.write(
      `\n[pnet test harness] ${process.env.AVA_TEST_FILE || 'a test file'} was still running 5 s after its tests ended ` +
      `(open handles: ${open.join(', ') || 'none'}): a leak; ending the worker\n`,
    );
    process.exit(0);
  }, 5000);
  timer.unref();
});
