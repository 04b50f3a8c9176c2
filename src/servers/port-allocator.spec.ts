import { createServer, Server } from 'node:net';
import { NetPortProbe } from '../common/io/port-probe';
import { freePortRange } from '../../test/support/fixtures';
import { PortAllocator } from './port-allocator';

describe('PortAllocator (real try-bind on loopback)', () => {
  let range: [number, number];
  const blockers: Server[] = [];
  beforeEach(async () => {
    range = await freePortRange(4);
  });
  afterEach(async () => {
    await Promise.all(blockers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });
  const block = (port: number): Promise<void> =>
    new Promise((r) => {
      const s = createServer();
      blockers.push(s);
      s.listen(port, '127.0.0.1', () => r());
    });
  const sutFor = (): PortAllocator => new PortAllocator(range, '127.0.0.1', new NetPortProbe());

  it('hands out the lowest free ports, one model per port, even when asked concurrently', async () => {
    const sut = sutFor();
    const ports = await Promise.all(['a', 'b', 'c'].map((m) => sut.allocate(m, null)));
    expect(ports).toEqual([range[0], range[0] + 1, range[0] + 2]);
  });

  it('skips a port another program has bound', async () => {
    await block(range[0]);
    expect(await sutFor().allocate('a', null)).toBe(range[0] + 1);
  });

  it('gives a model its remembered port when it is free, else another', async () => {
    const sut = sutFor();
    expect(await sut.allocate('a', range[0] + 2)).toBe(range[0] + 2);
    expect(await sut.allocate('b', range[0] + 2)).toBe(range[0]);
    sut.release('a', range[0] + 2);
    expect(await sut.allocate('b', range[0] + 2)).toBe(range[0] + 2);
  });

  it("leaves another model's remembered port alone while other ports are free", async () => {
    const sut = sutFor();
    sut.setRemembered(new Map([['b', range[0]]]));
    expect(await sut.allocate('a', null)).toBe(range[0] + 1);
    expect(await sut.allocate('b', range[0])).toBe(range[0]);
  });

  it("takes another model's remembered port when nothing else is left", async () => {
    const sut = sutFor();
    sut.setRemembered(new Map([['z', range[0]]]));
    for (const m of ['a', 'b', 'c']) await sut.allocate(m, null);
    expect(await sut.allocate('d', null)).toBe(range[0]);
  });

  it('ignores a remembered port outside the range and the ports it is told to avoid', async () => {
    const sut = sutFor();
    expect(await sut.allocate('a', 1, new Set([range[0]]))).toBe(range[0] + 1);
  });

  it('answers null when the range is used up', async () => {
    const sut = sutFor();
    for (const m of ['a', 'b', 'c', 'd']) expect(await sut.allocate(m, null)).not.toBeNull();
    expect(await sut.allocate('e', null)).toBeNull();
  });

  it('lets a model keep its own port across a re-allocation', async () => {
    const sut = sutFor();
    const p = await sut.allocate('a', null);
    expect(await sut.allocate('a', p)).toBe(p);
    expect(sut.holderOf(p!)).toBe('a');
  });
});
