/**
 * The end of a child process whose output a test reads. Node documents that at 'exit' the child's
 * stdio streams may still be open ('close' comes once they are drained), and five tests read the
 * output at 'exit' (two of them failed once each with empty or partial output under load; not
 * reproduced on demand). This waits for 'close'; if a grandchild keeps a pipe open after the child
 * died, it gives up `graceMs` after 'exit' (a daemon that inherited stdout cannot hang the test).
 */
import type { ChildProcess } from 'node:child_process';

export function childDone(child: ChildProcess, graceMs = 2000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | null = null;
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      resolve({ code, signal });
    };
    child.once('close', finish);
    child.once('exit', (code, signal) => { timer = setTimeout(() => finish(code, signal), graceMs); });
  });
}
