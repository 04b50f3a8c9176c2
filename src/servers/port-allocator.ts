import type { PortProbe } from '../common/io/port-probe';

/**
 * Hands out ports of PORT_RANGE to the fleet's servers: a port is given to one model at a
 * time, ports another program has bound are skipped (try-bind check), and a model gets
 * its remembered port back when that port is free. Allocations run one at a time so two
 * servers starting together never pick the same port.
 */
export class PortAllocator {
  private readonly holders = new Map<number, string>();
  /** Ports the registry remembers for wanted models: others get them only as a last resort. */
  private remembered = new Map<number, string>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly range: readonly [number, number],
    private readonly host: string,
    private readonly probe: PortProbe,
  ) {}

  /**
   * A free port for `modelId`: `preferred` first when it is in the range, else the lowest
   * free one; never one in `avoid` (ports this model just failed to bind) or one held by
   * another model. Null when the range has none left.
   */
  allocate(modelId: string, preferred: number | null, avoid: ReadonlySet<number> = new Set()): Promise<number | null> {
    const run = this.chain.catch(() => undefined).then(() => this.pick(modelId, preferred, avoid));
    this.chain = run;
    return run;
  }

  /**
   * The remembered ports of the models about to run, so that a model without one does
   * not take another's port just because it was allocated first.
   */
  setRemembered(ports: ReadonlyMap<string, number>): void {
    this.remembered = new Map([...ports].map(([modelId, port]) => [port, modelId]));
  }

  /** Gives the port back (the model's process is gone and it will not restart on it). */
  release(modelId: string, port: number | null): void {
    if (port !== null && this.holders.get(port) === modelId) this.holders.delete(port);
  }

  /** The model holding `port`, if any. */
  holderOf(port: number): string | undefined {
    return this.holders.get(port);
  }

  private async pick(modelId: string, preferred: number | null, avoid: ReadonlySet<number>): Promise<number | null> {
    const [from, to] = this.range;
    const candidates: number[] = [];
    if (preferred !== null && preferred >= from && preferred <= to) candidates.push(preferred);
    for (let p = from; p <= to; p++) if (p !== preferred) candidates.push(p);
    // First pass: leave other models' remembered ports alone; second: take what is left.
    for (const spareRemembered of [true, false]) {
      for (const port of candidates) {
        if (avoid.has(port)) continue;
        const holder = this.holders.get(port);
        if (holder !== undefined && holder !== modelId) continue;
        const owner = this.remembered.get(port);
        if (spareRemembered && owner !== undefined && owner !== modelId) continue;
        if (!(await this.probe.isFree(port, this.host))) continue;
        for (const [p, m] of this.holders) if (m === modelId && p !== port) this.holders.delete(p);
        this.holders.set(port, modelId);
        return port;
      }
    }
    return null;
  }
}
