import { EXPECTED, MODELS, modelFiles, PROJECTORS, projectorFile } from '../../test/support/corpus';
import { buildGgufFile, GgufLayout } from '../../test/support/gguf-writer';
import { fileMemoryOf } from './file-info';
import { GgufHeader, parseGgufHeader } from './gguf/gguf-reader';
import { MEMORY_PARSE_OPTIONS, modelMemoryFacts } from './memory';
import type { FileInfo } from './registry.types';
import { composeMemoryFacts, ParsedFile, planScan } from './scan-plan';

function info(over: Partial<FileInfo> = {}): FileInfo {
  return {
    architecture: 'llama',
    family: 'llama',
    version: null,
    sizeLabel: '8B',
    quantization: 'Q4_K_M',
    contextLength: 4096,
    isThinkingModel: false,
    displayName: 'Model',
    name: 'Model',
    isProjector: false,
    split: null,
    parameterCount: 1000,
    idBase: 'llama_8b_q4km',
    ...over,
  };
}

const file = (path: string, over: Partial<FileInfo> = {}, size = 10): ParsedFile => ({ path, size, info: info(over) });

describe('planScan', () => {
  it('makes one model of a complete split set, shards in order, counts and sizes summed', () => {
    const sut = planScan([
      file('/m/Big-00002-of-00003.gguf', { architecture: null }, 20),
      file('/m/Big-00001-of-00003.gguf', {}, 10),
      file('/m/Big-00003-of-00003.gguf', { architecture: null }, 30),
    ]);
    expect(sut.errors).toEqual([]);
    expect(sut.models).toHaveLength(1);
    expect(sut.models[0]).toMatchObject({
      filePath: '/m/Big-00001-of-00003.gguf',
      splitFiles: ['/m/Big-00001-of-00003.gguf', '/m/Big-00002-of-00003.gguf', '/m/Big-00003-of-00003.gguf'],
      parameterCount: 3000,
      fileSizeBytes: 60,
    });
  });

  it('lists no model and reports a scan error when a shard is missing', () => {
    const sut = planScan([file('/m/Big-00001-of-00003.gguf'), file('/m/Big-00003-of-00003.gguf')]);
    expect(sut.models).toEqual([]);
    expect(sut.errors).toEqual([
      { path: '/m/Big-00001-of-00003.gguf', error: 'split model is missing shard(s) 2 of 3' },
    ]);
  });

  it('attaches a projector to the model of its folder whose name matches best, never across folders', () => {
    const sut = planScan([
      file('/a/gemma-3-12b-it-Q4_K_M.gguf', { name: 'Gemma 3 12b It' }),
      file('/a/Llama-3.1-8B-Q4_K_M.gguf', { name: 'Llama 3.1 8B' }),
      file('/a/mmproj-gemma-3-12b-it-f16.gguf', { isProjector: true, architecture: 'clip', name: 'Gemma 3 12b It' }),
      file('/b/mmproj-other-f16.gguf', { isProjector: true, architecture: 'clip', name: 'Other' }),
    ]);
    const byPath = Object.fromEntries(sut.models.map((m) => [m.filePath, m.mmprojPath]));
    expect(byPath).toEqual({
      '/a/Llama-3.1-8B-Q4_K_M.gguf': null,
      '/a/gemma-3-12b-it-Q4_K_M.gguf': '/a/mmproj-gemma-3-12b-it-f16.gguf',
    });
  });

  it('attaches a projector to the only model of its folder even when names differ', () => {
    const sut = planScan([
      file('/a/model.gguf', { name: 'X' }),
      file('/a/mmproj-vision-f16.gguf', { isProjector: true, name: 'Y' }),
    ]);
    expect(sut.models[0].mmprojPath).toBe('/a/mmproj-vision-f16.gguf');
  });

  it('turns unreadable files into scan errors and keeps the rest', () => {
    const sut = planScan([{ path: '/m/bad.gguf', size: 0, error: 'empty file' }, file('/m/good.gguf')]);
    expect(sut.errors).toEqual([{ path: '/m/bad.gguf', error: 'empty file' }]);
    expect(sut.models.map((m) => m.filePath)).toEqual(['/m/good.gguf']);
  });
});

/** A corpus header, parsed as the scanner parses it. */
function parseLayout(layout: GgufLayout): Promise<GgufHeader> {
  const bytes = Buffer.concat(buildGgufFile(layout).chunks);
  return parseGgufHeader(
    { size: bytes.length, read: (at, length) => Promise.resolve(bytes.subarray(at, at + length)) },
    MEMORY_PARSE_OPTIONS,
  );
}

/** A parsed file carrying only what the scanner keeps of a header's memory. */
const withMemory = (path: string, header: GgufHeader): ParsedFile => ({
  path,
  size: 1,
  info: info({ memory: fileMemoryOf(header) }),
});

describe('composeMemoryFacts', () => {
  it.each(EXPECTED.models.map((e) => [e.file, e.mmproj]))(
    'gives %s the facts modelMemoryFacts gives its headers (every shard, and its projector)',
    async (file, mmproj) => {
      const model = MODELS.find((m) => modelFiles(m)[0].file === file)!;
      const shards = await Promise.all(modelFiles(model).map((f) => parseLayout(f.layout!)));
      const projector = mmproj
        ? await parseLayout(projectorFile(PROJECTORS.find((p) => p.file === mmproj)!).layout!)
        : null;

      const sut = composeMemoryFacts(
        shards.map((h, i) => withMemory(`/m/${i}.gguf`, h)),
        projector && withMemory('/m/mmproj.gguf', projector),
      );

      expect(sut).not.toBeNull();
      expect(sut).toEqual(modelMemoryFacts(shards, projector));
    },
  );

  it('counts the later shards of a split model, which carry no facts of their own', async () => {
    const model = MODELS.find((m) => m.splitMaxBytes !== undefined)!;
    const shards = await Promise.all(modelFiles(model).map((f) => parseLayout(f.layout!)));
    const files = shards.map((h, i) => withMemory(`/m/${i}.gguf`, h));
    expect(files.map((f) => f.info!.memory!.facts === null)).toEqual([false, true, true]);

    const sut = composeMemoryFacts(files, null)!;

    expect(sut.weightsBytes).toBe(files.reduce((n, f) => n + f.info!.memory!.tensorBytes!, 0));
    expect(sut.weightsBytes).toBeGreaterThan(files[0].info!.memory!.tensorBytes! * 2);
  });

  it('is null when a file cannot tell, or its record predates the memory facts', async () => {
    const [first, second] = await Promise.all(
      modelFiles(MODELS.find((m) => m.splitMaxBytes !== undefined)!).map((f) => parseLayout(f.layout!)),
    );
    const a = withMemory('/m/a.gguf', first);
    const b = withMemory('/m/b.gguf', second);
    const unknownTypes: ParsedFile = { ...b, info: info({ memory: { ...b.info!.memory!, tensorBytes: null } }) };
    const old: ParsedFile = { ...b, info: info() };

    expect(composeMemoryFacts([a, b], null)).not.toBeNull();
    expect(composeMemoryFacts([a, unknownTypes], null)).toBeNull();
    expect(composeMemoryFacts([a, old], null)).toBeNull();
    expect(composeMemoryFacts([a], unknownTypes)).toBeNull();
    expect(composeMemoryFacts([b], null)).toBeNull();
    expect(composeMemoryFacts([], null)).toBeNull();
  });
});

describe('planScan memory facts', () => {
  it('gives each model the facts of its own files, its projector included', async () => {
    const gemma = MODELS.find((m) => m.architecture === 'gemma3')!;
    const header = await parseLayout(modelFiles(gemma)[0].layout!);
    const projector = await parseLayout(projectorFile(PROJECTORS[0]).layout!);

    const sut = planScan([
      withMemory('/a/gemma-3-12b-it-Q4_K_M.gguf', header),
      {
        ...withMemory('/a/mmproj-gemma-3-12b-it-f16.gguf', projector),
        info: { ...info({ isProjector: true }), memory: fileMemoryOf(projector) },
      },
    ]);

    expect(sut.models).toHaveLength(1);
    expect(sut.models[0].memoryFacts).toEqual(modelMemoryFacts([header], projector));
    expect(sut.models[0].memoryFacts!.projectorBytes).toBeGreaterThan(0);
  });
});
