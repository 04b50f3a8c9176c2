import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { NodeFileStore } from '../common/io/file-store';
import { autoBudget, parseCgroupMemoryMax } from '../common/units/memory-size';
import { loadMagiConfig } from '../config/load-config';
import { FleetBudget } from './fleet-budget';

const GiB = 1024 ** 3;

async function budget(env: Record<string, string>): Promise<FleetBudget> {
  const b = new FleetBudget(new NodeFileStore(), loadMagiConfig(env));
  await b.onModuleInit();
  return b;
}

describe('FleetBudget', () => {
  it('takes the profile memoryBudget over FLEET_MEMORY_BUDGET, and off as no budget', async () => {
    const b = await budget({ FLEET_MEMORY_BUDGET: '8GiB' });
    expect(b.bytesFor(undefined)).toBe(8 * GiB);
    expect(b.bytesFor('3GiB')).toBe(3 * GiB);
    expect(b.bytesFor('off')).toBeNull();
    expect(b.bytesFor(undefined)).toBe(8 * GiB);
  });

  it('works out auto from this machine (its cgroup limit where lower) minus FLEET_MEMORY_RESERVE', async () => {
    let cgroup: string | null = null;
    try {
      cgroup = readFileSync('/sys/fs/cgroup/memory.max', 'utf8');
    } catch {
      // No cgroup v2 here: the machine's memory alone.
    }
    const expected = autoBudget(totalmem(), parseCgroupMemoryMax(cgroup), 3 * GiB);
    const b = await budget({ FLEET_MEMORY_BUDGET: 'auto', FLEET_MEMORY_RESERVE: '3GiB' });
    expect(b.bytesFor(undefined)).toBe(expected);
    expect(b.bytesFor('auto')).toBe(expected);
    expect(expected).toBeLessThan(totalmem());
  });

  it('falls back to the configuration for a hand-edited memoryBudget it cannot read', async () => {
    const b = await budget({ FLEET_MEMORY_BUDGET: '8GiB' });
    expect(b.bytesFor('lots')).toBe(8 * GiB);
  });
});
