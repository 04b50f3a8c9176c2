import { parseGgufHeader } from '../registry/gguf/gguf-reader';
import { MEMORY_PARSE_OPTIONS } from '../registry/memory';
import { MODELS, modelFiles } from '../../test/support/corpus';
import { buildGgufFile } from '../../test/support/gguf-writer';
import { RangedByteSource, REMOTE_CHUNK_BYTES } from './ranged-byte-source';

/** A real model's header (Qwen3-4B: 151,936-token vocabulary, ~4.9 MB) followed by `data` bytes of tensor data. */
function modelBytes(file: string, data: number): Buffer {
  const m = MODELS.find((x) => x.file === file)!;
  const header = Buffer.concat(buildGgufFile(modelFiles(m)[0].layout!).chunks);
  return Buffer.concat([header, Buffer.alloc(data, 0xab)]);
}

function over(bytes: Buffer): { fetch: (s: number, e: number) => Promise<Buffer>; ranges: Array<[number, number]> } {
  const ranges: Array<[number, number]> = [];
  return {
    ranges,
    fetch: (s, e) => {
      ranges.push([s, e]);
      return Promise.resolve(Buffer.from(bytes.subarray(s, e + 1)));
    },
  };
}

describe('RangedByteSource', () => {
  let bytes: Buffer;
  let local: Awaited<ReturnType<typeof parseGgufHeader>>;

  beforeAll(async () => {
    bytes = modelBytes('Qwen3-4B-Q4_K_M.gguf', 40 * 1024 * 1024);
    const whole = { size: bytes.length, read: (p: number, l: number) => Promise.resolve(bytes.subarray(p, p + l)) };
    local = await parseGgufHeader(whole, MEMORY_PARSE_OPTIONS);
  });

  it('lets the GGUF reader parse a remote header exactly as a local one', async () => {
    const { fetch } = over(bytes);
    const sut = new RangedByteSource(bytes.length, fetch);
    const remote = await parseGgufHeader(sut, { ...MEMORY_PARSE_OPTIONS, chunkSize: REMOTE_CHUNK_BYTES });
    expect(remote.metadata).toEqual(local.metadata);
    expect(remote.tensors).toEqual(local.tensors);
    expect(remote.headerBytes).toBe(local.headerBytes);
  });

  it('fetches the header and at most one window more, in a handful of growing requests', async () => {
    const { fetch, ranges } = over(bytes);
    const sut = new RangedByteSource(bytes.length, fetch, { firstBytes: 256 * 1024, maxWindow: 1024 * 1024 });
    await parseGgufHeader(sut, { ...MEMORY_PARSE_OPTIONS, chunkSize: REMOTE_CHUNK_BYTES });
    expect(ranges[0]).toEqual([0, 256 * 1024 - 1]);
    expect(sut.requests).toBe(ranges.length);
    expect(sut.requests).toBeLessThanOrEqual(10);
    expect(sut.bytesFetched).toBeGreaterThanOrEqual(local.headerBytes);
    expect(sut.bytesFetched).toBeLessThanOrEqual(local.headerBytes + 1024 * 1024 + REMOTE_CHUNK_BYTES);
    // Every range starts where the previous one ended: nothing fetched twice.
    for (let i = 1; i < ranges.length; i++) expect(ranges[i][0]).toBe(ranges[i - 1][1] + 1);
  });

  it('never asks past the end of a small file', async () => {
    const small = bytes.subarray(0, 1000);
    const { fetch, ranges } = over(small);
    const sut = new RangedByteSource(small.length, fetch);
    await expect(sut.read(0, 4096)).resolves.toHaveLength(1000);
    expect(ranges).toEqual([[0, 999]]);
    await expect(sut.read(1000, 10)).resolves.toHaveLength(0);
  });

  it('reads again what it has dropped when the reader jumps back', async () => {
    const { fetch } = over(bytes);
    const sut = new RangedByteSource(bytes.length, fetch, { firstBytes: 1024, maxWindow: 1024 });
    await sut.read(0, 10);
    await sut.read(10 * 1024 * 1024, 10);
    await expect(sut.read(5, 5)).resolves.toEqual(bytes.subarray(5, 10));
  });

  it('refuses a host that sends less than asked', async () => {
    const sut = new RangedByteSource(1000, () => Promise.resolve(Buffer.alloc(10)));
    await expect(sut.read(0, 100)).rejects.toThrow(/sent 10 bytes/);
  });
});
