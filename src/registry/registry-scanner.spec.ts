import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GgmlType, writeBrokenGgufFile, writeGgufFile } from '../../test/support/gguf-writer';
import { NodeFileStore } from '../common/io/file-store';
import { GgufType } from './gguf/gguf-reader';
import { loadMagiConfig } from '../config/load-config';
import { MEMORY_FACTS_VERSION } from './file-info';
import { RegistryScanner } from './registry-scanner';
import type { FileRecord } from './registry.types';

/** A small model header (no vocabulary, so each file is a few KB). */
const model = (name: string, parameterCount = 1_000_000) =>
  ({ name, sizeLabel: '1B', fileType: 15, parameterCount, vocabSize: 0 }) as const;

describe('RegistryScanner', () => {
  let root: string;
  let models: string;
  let sut: RegistryScanner;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'magi-scanner-'));
    models = join(root, 'models');
    mkdirSync(models);
    const config = loadMagiConfig({ LOG_LEVEL: 'silent', MODEL_SCAN_PATH: models });
    sut = new RegistryScanner(new NodeFileStore(), config);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  describe('scan', () => {
    it('reads the header of every *.gguf file under the folder, sub-folders included, and nothing else', async () => {
      await writeGgufFile(join(models, 'Alpha-1B-Q4_K_M.gguf'), model('Alpha', 1_000_000));
      mkdirSync(join(models, 'nested'));
      await writeGgufFile(join(models, 'nested', 'Bravo-1B-Q4_K_M.GGUF'), model('Bravo', 2_000_000));
      writeFileSync(join(models, 'README.md'), 'not a model');

      const r = await sut.scan({});

      expect(r.headersRead).toBe(2);
      expect(Object.keys(r.files).sort()).toEqual([
        join(models, 'Alpha-1B-Q4_K_M.gguf'),
        join(models, 'nested', 'Bravo-1B-Q4_K_M.GGUF'),
      ]);
      expect(r.plan.errors).toEqual([]);
      expect(r.plan.models.map((m) => [m.filePath, m.info.displayName, m.parameterCount])).toEqual([
        [join(models, 'Alpha-1B-Q4_K_M.gguf'), 'Alpha', 1_000_000],
        [join(models, 'nested', 'Bravo-1B-Q4_K_M.GGUF'), 'Bravo', 2_000_000],
      ]);
    });

    it('keeps the record of a file whose size and mtime did not change, and reads a changed one again', async () => {
      const alpha = join(models, 'Alpha-1B-Q4_K_M.gguf');
      const bravo = join(models, 'Bravo-1B-Q4_K_M.gguf');
      await writeGgufFile(alpha, model('Alpha'));
      await writeGgufFile(bravo, model('Bravo'));
      const first = await sut.scan({});

      const again = await sut.scan(first.files);
      expect(again.headersRead).toBe(0);
      expect(again.files[alpha]).toBe(first.files[alpha]);

      await writeGgufFile(bravo, model('Bravo Renamed'));
      utimesSync(bravo, new Date(), new Date(Date.now() + 5000));
      const changed = await sut.scan(first.files);
      expect(changed.headersRead).toBe(1);
      expect(changed.files[alpha]).toBe(first.files[alpha]);
      expect(changed.files[bravo].info?.displayName).toBe('Bravo Renamed');
    });

    it('keeps what the memory estimate needs in each record, and gives the model its facts', async () => {
      const alpha = join(models, 'Alpha-1B-Q4_K_M.gguf');
      await writeGgufFile(alpha, {
        ...model('Alpha'),
        architecture: 'llama',
        contextLength: 4096,
        vocabSize: 1000,
        extra: [
          { key: 'llama.block_count', type: GgufType.UINT32, value: 2 },
          { key: 'llama.embedding_length', type: GgufType.UINT32, value: 256 },
          { key: 'llama.attention.head_count', type: GgufType.UINT32, value: 4 },
        ],
        tensors: [{ name: 'token_embd.weight', dims: [256, 1000], type: GgmlType.F16 }],
      });

      const r = await sut.scan({});

      expect(r.files[alpha].info?.memory).toEqual({
        version: MEMORY_FACTS_VERSION,
        tensorBytes: 256 * 1000 * 2,
        facts: expect.objectContaining({ architecture: 'llama', weightsBytes: 256 * 1000 * 2, contextLength: 4096 }),
      });
      expect(r.plan.models[0].memoryFacts).toEqual(r.files[alpha].info?.memory?.facts);
    });

    it('reads a file again whose record predates the memory facts (or their current derivation), then keeps it', async () => {
      const alpha = join(models, 'Alpha-1B-Q4_K_M.gguf');
      const bravo = join(models, 'Bravo-1B-Q4_K_M.gguf');
      await writeGgufFile(alpha, model('Alpha'));
      await writeGgufFile(bravo, model('Bravo'));
      const first = await sut.scan({});
      const old = (record: FileRecord, memory?: unknown): FileRecord => ({
        ...record,
        info: { ...record.info!, memory: memory as never },
      });
      const previous = {
        [alpha]: old(first.files[alpha]),
        [bravo]: old(first.files[bravo], { ...first.files[bravo].info!.memory, version: MEMORY_FACTS_VERSION - 1 }),
      };

      const upgraded = await sut.scan(previous);
      expect(upgraded.headersRead).toBe(2);
      expect(upgraded.files[alpha]).toEqual(first.files[alpha]);
      expect(upgraded.files[bravo]).toEqual(first.files[bravo]);

      expect((await sut.scan(upgraded.files)).headersRead).toBe(0);
    });

    it('drops the records of files that are gone', async () => {
      const alpha = join(models, 'Alpha-1B-Q4_K_M.gguf');
      await writeGgufFile(alpha, model('Alpha'));
      const first = await sut.scan({});
      rmSync(alpha);

      const r = await sut.scan(first.files);

      expect(r.files).toEqual({});
      expect(r.plan.models).toEqual([]);
      expect(r.headersRead).toBe(0);
    });

    it('turns an unreadable header into a scan error instead of failing the scan', async () => {
      await writeGgufFile(join(models, 'Alpha-1B-Q4_K_M.gguf'), model('Alpha'));
      await writeBrokenGgufFile(join(models, 'broken.gguf'), { kind: 'bad-magic' });

      const r = await sut.scan({});

      expect(r.plan.models.map((m) => m.info.displayName)).toEqual(['Alpha']);
      expect(r.plan.errors).toEqual([{ path: join(models, 'broken.gguf'), error: expect.stringMatching(/magic/i) }]);
      expect(r.files[join(models, 'broken.gguf')].error).toMatch(/magic/i);
    });

    it('answers an empty result for an empty folder', async () => {
      expect(await sut.scan({})).toEqual({ files: {}, plan: { models: [], errors: [] }, headersRead: 0 });
    });
  });
});
