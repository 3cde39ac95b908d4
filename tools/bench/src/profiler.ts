/**
 * CPU profiles of chosen stretches of a benchmark (not of ts-node's start-up):
 * `pnpm bench -- --quick --only=tcp --cpu-prof=/tmp/prof` writes one
 * `.cpuprofile` per module, `profile-summary.ts` prints self time per function.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Session } from 'node:inspector';

export class Profiler {
  private readonly session = new Session();

  constructor(private readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
    this.session.connect();
  }

  private post(method: string, params?: object): Promise<any> {
    return new Promise((resolve, reject) => this.session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  }

  async start(): Promise<void> {
    await this.post('Profiler.enable');
    await this.post('Profiler.setSamplingInterval', { interval: 200 });
    await this.post('Profiler.start');
  }

  /** Stops and writes `<dir>/<name>.cpuprofile`; returns the path. */
  async stop(name: string): Promise<string> {
    const { profile } = await this.post('Profiler.stop');
    const file = path.join(this.dir, `${name}.cpuprofile`);
    fs.writeFileSync(file, JSON.stringify(profile));
    return file;
  }
}
