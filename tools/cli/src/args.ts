/**
 * A small command-line parser (no dependency): `--name value`, `--name=value`,
 * `-x value`, boolean flags, repeatable options, `--` to end options, and
 * positional arguments in between.
 */
export interface OptionSpec {
  /** Long name without dashes, e.g. `pcap`. */
  name: string;
  /** Short letter, e.g. `o`. */
  short?: string;
  /** Takes a value (else a boolean flag). */
  value?: string;
  /** May be given several times (values collected in order). */
  repeat?: boolean;
  help: string;
}

export interface Parsed {
  options: Map<string, string[] | true>;
  positional: string[];
}

export class UsageError extends Error {}

export function parseArgs(argv: string[], specs: OptionSpec[]): Parsed {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const options = new Map<string, string[] | true>();
  const positional: string[] = [];
  let i = 0;
  const take = (spec: OptionSpec, inline: string | undefined, shown: string) => {
    if (!spec.value) {
      if (inline !== undefined) throw new UsageError(`option ${shown} takes no value`);
      options.set(spec.name, true);
      return;
    }
    let v = inline;
    if (v === undefined) {
      if (i >= argv.length) throw new UsageError(`option ${shown} needs a value (${spec.value})`);
      v = argv[i++];
    }
    const prev = options.get(spec.name);
    if (prev && prev !== true && spec.repeat) prev.push(v);
    else if (prev && !spec.repeat) throw new UsageError(`option ${shown} given twice`);
    else options.set(spec.name, [v]);
  };
  while (i < argv.length) {
    const a = argv[i++];
    if (a === '--') {
      positional.push(...argv.slice(i));
      break;
    }
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const spec = byLong.get(name);
      if (!spec) throw new UsageError(`unknown option --${name}`);
      take(spec, eq >= 0 ? a.slice(eq + 1) : undefined, `--${name}`);
    } else if (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a)) {
      const spec = byShort.get(a[1]);
      if (!spec) throw new UsageError(`unknown option ${a.slice(0, 2)}`);
      // `-c3` and `-c 3` both work for options with a value.
      take(spec, a.length > 2 ? (spec.value ? a.slice(2) : (() => { throw new UsageError(`unknown option ${a}`); })()) : undefined, `-${a[1]}`);
    } else {
      positional.push(a);
    }
  }
  return { options, positional };
}

export function flag(p: Parsed, name: string): boolean {
  return p.options.get(name) === true;
}

export function value(p: Parsed, name: string): string | undefined {
  const v = p.options.get(name);
  return Array.isArray(v) ? v[v.length - 1] : undefined;
}

export function values(p: Parsed, name: string): string[] {
  const v = p.options.get(name);
  return Array.isArray(v) ? v : [];
}

export function formatOptions(specs: OptionSpec[]): string {
  const rows = specs.map((s) => {
    const names = `${s.short ? `-${s.short}, ` : '    '}--${s.name}${s.value ? ` ${s.value}` : ''}`;
    return [names, s.help];
  });
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  return rows.map(([n, h]) => `  ${n.padEnd(width)}${h}`).join('\n');
}
