/**
 * Counters for the whole stack, one record per protocol. `errors` are inputs
 * that were malformed (bad checksum, truncated); `drops` are well-formed inputs
 * the stack decided not to take (no socket, not for us, rate limited). Both are
 * keyed by reason. Counting allocates nothing once a reason has been seen.
 */
export interface ProtocolStats {
  rx: number;
  tx: number;
  drops: Record<string, number>;
  errors: Record<string, number>;
}

export function newProtocolStats(): ProtocolStats {
  return { rx: 0, tx: 0, drops: {}, errors: {} };
}

export function countDrop(s: ProtocolStats, reason: string): void {
  s.drops[reason] = (s.drops[reason] ?? 0) + 1;
}

export function countError(s: ProtocolStats, reason: string): void {
  s.errors[reason] = (s.errors[reason] ?? 0) + 1;
}

export class StackStats {
  readonly ethernet = newProtocolStats();
  readonly arp = newProtocolStats();
  readonly ipv4 = newProtocolStats();
  readonly icmp = newProtocolStats();
  readonly udp = newProtocolStats();
  private readonly others: Record<string, ProtocolStats> = {};

  /** The record for a protocol, created on first use (e.g. `get('tcp')`, `get('dns')`). */
  get(name: string): ProtocolStats {
    const own = (this as unknown as Record<string, ProtocolStats>)[name];
    if (own && typeof own === 'object' && 'drops' in own && name !== 'others') return own;
    return (this.others[name] ??= newProtocolStats());
  }

  /** Every record by protocol name (for printing and tests). */
  all(): Record<string, ProtocolStats> {
    return { ethernet: this.ethernet, arp: this.arp, ipv4: this.ipv4, icmp: this.icmp, udp: this.udp, ...this.others };
  }

  /** Sum of drops (and errors, with `includeErrors`) for one protocol, or for all of them. */
  totalDrops(name?: string, includeErrors = true): number {
    const records = name ? [this.get(name)] : Object.values(this.all());
    let n = 0;
    for (const r of records) {
      for (const v of Object.values(r.drops)) n += v;
      if (includeErrors) for (const v of Object.values(r.errors)) n += v;
    }
    return n;
  }
}
