import type { FileInfo } from './registry.types';
import { ParsedFile, planScan } from './scan-plan';

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
