/**
 * Reading our captures back with tshark, the one judge of "a pcap we write opens cleanly": the
 * tests over TAP (and any other capture) ask it the same questions, so they ask them here.
 */
import { spawnSync } from 'node:child_process';

/** Runs `tshark -n -r file ...args` and returns its stdout; throws with stderr when tshark fails. */
export function tsharkRun(file: string, args: readonly string[]): string {
  const p = spawnSync('tshark', ['-n', '-r', file, ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (p.error) throw new Error(`tshark: ${p.error.message}`);
  if (p.status !== 0) throw new Error(`tshark ${args.join(' ')} failed (${p.status}): ${p.stderr}`);
  return p.stdout;
}

/** One value per line, empty lines dropped: for `-T fields` with one field. */
export function tsharkLines(file: string, filter: string, field: string): string[] {
  return tsharkRun(file, ['-Y', filter, '-T', 'fields', '-e', field]).split('\n').filter((l) => l.trim() !== '');
}

export interface CaptureCheck {
  /** Also verify IPv4 and TCP checksums (tshark leaves them unchecked by default). */
  checksums?: boolean;
  /** Extra dissector options, e.g. `['-d', 'tcp.port==80,data']` to skip one protocol's dissection. */
  extraArgs?: readonly string[];
}

/**
 * The frames tshark finds wrong: malformed, an expert error, and (with `checksums`) a bad IPv4 or
 * TCP checksum; one line each (`number|protocols|expert message|ip status|tcp status`). Empty
 * when the capture is clean. The expert summary is read too, since a malformed frame inside a
 * reassembled PDU is reported only there.
 */
export function captureProblems(file: string, check: CaptureCheck = {}): string[] {
  const opts = [...(check.checksums ? ['-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE'] : []), ...(check.extraArgs ?? [])];
  const filter = '_ws.malformed || _ws.expert.severity == error' +
    (check.checksums ? ' || ip.checksum.status == 0 || tcp.checksum.status == 0' : '');
  const frames = tsharkRun(file, [...opts, '-Y', filter, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.number',
    '-e', 'frame.protocols', '-e', '_ws.expert.message', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status'])
    .split('\n').filter((l) => l.trim() !== '');
  const expert = tsharkRun(file, [...opts, '-q', '-z', 'expert']).split('\n')
    .filter((l) => /malformed|^\s*errors\s*\(/i.test(l)).map((l) => `expert: ${l.trim()}`);
  return [...frames, ...expert];
}
