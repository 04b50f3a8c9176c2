import { EXPECTED as expected, useCorpus } from '../../../test/support/corpus';
import { openByteSource } from '../../../test/support/gguf-writer';
import { fileTypeName, quantizationFromFileName } from './file-types';
import { GgufHeader, GgufValue, parseGgufHeader } from './gguf-reader';
import {
  deriveModelInfo,
  ModelInfo,
  parseModelName,
  sizeLabelFromCount,
  suggestModelIdBase,
  toSizeParams,
} from './model-info';

const corpus = useCorpus();

async function infoOf(file: string): Promise<ModelInfo> {
  const src = await openByteSource(corpus().path(file));
  try {
    return deriveModelInfo(await parseGgufHeader(src), file);
  } finally {
    await src.close();
  }
}

function header(metadata: Record<string, GgufValue>, parameterCount = 0, hasThinkToken = false): GgufHeader {
  return {
    version: 3,
    tensorCount: 0,
    kvCount: Object.keys(metadata).length,
    metadata,
    parameterCount,
    hasThinkToken,
    alignment: 32,
    headerBytes: 0,
    bytesRead: 0,
  };
}

describe('deriveModelInfo', () => {
  describe('on the generated corpus', () => {
    it.each(expected.models.map((m) => [m.file, m]))(
      'describes %s as the expected table says',
      async (_file, model) => {
        const m = model;
        const sut = await infoOf(m.file);

        expect(sut.architecture).toBe(m.architecture);
        expect(m.familyAlternatives).toContain(sut.family);
        expect(sut.quantization).toBe(m.quantization);
        expect(sut.contextLength).toBe(m.contextLength);
        expect(sut.isThinkingModel).toBe(m.isThinkingModel);
        expect(sut.sizeLabel).toBe(m.sizeLabel);
        expect(sut.displayName).toBe(m.name);
        expect(sut.isProjector).toBe(false);
        if (m.split === null) {
          expect(sut.split).toBeNull();
          expect(sut.parameterCount).toBe(m.parameterCount);
          expect(sut.sizeParams).toBe(m.sizeParams);
        }
        expect(suggestModelIdBase(sut)).toMatch(/^[a-z0-9]+(_[a-z0-9]+)*$/);
      },
    );

    it('gives every corpus model a distinct id base', async () => {
      const ids = await Promise.all(expected.models.map(async (m) => suggestModelIdBase(await infoOf(m.file))));

      expect(new Set(ids).size).toBe(ids.length);
    });

    it.each([
      ['DeepSeek-R1-Distill-Llama-8B-Q4_K_M.gguf', 'deepseek', 'r1', 'deepseek_r1_8b_q4km'],
      ['Qwen3-4B-Q4_K_M.gguf', 'qwen3', '3', 'qwen3_4b_q4km'],
      ['Meta-Llama-3.1-8B-Instruct-Q8_0.gguf', 'llama', '3.1', 'llama_3_1_8b_q80'],
      ['gemma-3-12b-it-Q4_K_M.gguf', 'gemma3', '3', 'gemma3_12b_q4km'],
      ['Qwen2.5-Coder-14B-Instruct-Q5_K_M.gguf', 'qwen2.5', '2.5', 'qwen2_5_14b_q5km'],
      ['QwQ-32B-Q4_K_M.gguf', 'qwq', null, 'qwq_32b_q4km'],
      ['Mistral-Small-24B-Instruct-2501-Q6_K.gguf', 'mistral', '2501', 'mistral_2501_24b_q6k'],
      ['phi-4-Q4_K_M.gguf', 'phi4', '4', 'phi4_15b_q4km'],
      ['tiny-7B-Q8_0.gguf', 'qwen3', '3', 'qwen3_1_7b_q4km'],
      ['Qwen3-30B-A3B-Q4_K_M.gguf', 'qwen3', '3', 'qwen3_30b_a3b_q4km'],
      ['Llama-3.3-70B-Instruct-Q4_K_M-00001-of-00003.gguf', 'llama', '3.3', 'llama_3_3_70b_q4km'],
    ])('names %s: family %s, version %s, id %s', async (file, family, version, id) => {
      const sut = await infoOf(file);

      expect([sut.family, sut.version, suggestModelIdBase(sut)]).toEqual([family, version, id]);
    });

    it('trusts the header over a misleading file name', async () => {
      const sut = await infoOf('tiny-7B-Q8_0.gguf');

      expect([sut.sizeLabel, sut.quantization, sut.sizeParams]).toEqual(['1.7B', 'Q4_K_M', 1.72]);
    });

    it('describes the three shards of the split 70B model, the later ones from their split keys and file names alone', async () => {
      const model = expected.models.find((m) => m.split !== null)!;
      const shards = await Promise.all(model.split!.files.map(infoOf));

      expect(shards.map((s) => s.split)).toEqual(
        [0, 1, 2].map((no) => ({ no, count: 3, fileNames: model.split!.files })),
      );
      for (const later of shards.slice(1)) {
        expect(later).toMatchObject({
          architecture: null,
          family: 'llama',
          version: '3.3',
          quantization: 'Q4_K_M',
          sizeLabel: '70B',
          contextLength: null,
        });
      }
      expect(toSizeParams(shards.reduce((n, s) => n + s.parameterCount, 0))).toBe(model.sizeParams);
    });

    it('marks the mmproj file as a projector', async () => {
      const p = expected.projectorDetails[0];
      const sut = await infoOf(p.file);

      expect(sut).toMatchObject({
        isProjector: true,
        architecture: 'clip',
        family: 'gemma3',
        quantization: p.quantization,
        parameterCount: p.parameterCount,
        sizeParams: p.sizeParams,
      });
    });
  });

  describe('without metadata', () => {
    it('falls back to the file name', () => {
      const sut = deriveModelInfo(header({}), '/models/Meta-Llama-3.1-8B-Instruct-Q8_0.gguf');

      expect(sut).toMatchObject({
        architecture: null,
        family: 'llama',
        version: '3.1',
        sizeLabel: '8B',
        quantization: 'Q8_0',
        displayName: 'Meta-Llama-3.1-8B-Instruct-Q8_0',
        isProjector: false,
        split: null,
      });
    });

    it('reads split info from the file name alone', () => {
      const sut = deriveModelInfo(header({}), 'big-Q4_K_M-00002-of-00003.gguf');

      expect(sut.split).toEqual({
        no: 1,
        count: 3,
        fileNames: [
          'big-Q4_K_M-00001-of-00003.gguf',
          'big-Q4_K_M-00002-of-00003.gguf',
          'big-Q4_K_M-00003-of-00003.gguf',
        ],
      });
    });

    it('recognises a projector by its file name', () => {
      expect(deriveModelInfo(header({}), 'mmproj-model-f16.gguf').isProjector).toBe(true);
    });

    it('uses the architecture as the family when nothing else names the model', () => {
      const sut = deriveModelInfo(header({ 'general.architecture': 'qwen3' }, 1_720_574_976), '_.gguf');

      expect(sut.family).toBe('qwen3');
      expect(sut.sizeLabel).toBe('1.7B');
    });

    it('computes the size label from the parameter count', () => {
      const sut = deriveModelInfo(header({ 'general.name': 'Some Model' }, 8_030_261_312), 'x.gguf');

      expect(sut.sizeLabel).toBe('8B');
      expect(sut.family).toBe('some');
    });
  });

  describe('thinking detection', () => {
    it.each([
      ["{{ '<think>\\n' }}", true],
      ['{% if enable_thinking %}', true],
      ['{{ reasoning_effort }}', true],
      ['{{ messages }}', false],
    ])('reads template %s as thinking=%s', (template, thinking) => {
      const sut = deriveModelInfo(header({ 'tokenizer.chat_template': template }), 'm.gguf');

      expect(sut.isThinkingModel).toBe(thinking);
    });

    it('counts a <think> token in the vocabulary', () => {
      expect(deriveModelInfo(header({}, 0, true), 'm.gguf').isThinkingModel).toBe(true);
    });
  });
});

describe('parseModelName', () => {
  it.each([
    ['Qwen3', null, 'qwen3', '3'],
    ['Qwen2.5-Coder', null, 'qwen2.5', '2.5'],
    ['DeepSeek-R1-Distill-Llama', null, 'deepseek', 'r1'],
    ['Meta-Llama-3.1', null, 'llama', '3.1'],
    ['Meta Llama 3.1 8B Instruct', null, 'llama', '3.1'],
    ['Llama-3.3', null, 'llama', '3.3'],
    ['gemma-3', null, 'gemma3', '3'],
    ['Gemma 3 12b It', null, 'gemma3', '3'],
    ['phi', '4', 'phi4', '4'],
    ['Phi 4', null, 'phi4', '4'],
    ['QwQ', null, 'qwq', null],
    ['Mistral-Small', '2501', 'mistral', '2501'],
    ['DeepSeek-V3', null, 'deepseek', 'v3'],
    ['Mixtral-8x7B-Instruct', null, 'mixtral', null],
  ])('reads %s (general.version %s) as %s %s', (name, generalVersion, family, version) => {
    expect(parseModelName(name, generalVersion)).toEqual({ family, version });
  });
});

describe('suggestModelIdBase', () => {
  it('keeps ids lowercase [a-z0-9_] without doubled or edge underscores', () => {
    const sut = suggestModelIdBase({ family: 'Foo--Bar', version: '1.5', sizeLabel: '8x7B', quantization: 'IQ3_XXS' });

    expect(sut).toBe('foo_bar_1_5_8x7b_iq3xxs');
  });

  it('falls back to "model" when there is nothing to build from', () => {
    expect(suggestModelIdBase({ family: '--', version: null, sizeLabel: null, quantization: null })).toBe('model');
  });
});

describe('sizeLabelFromCount', () => {
  it.each([
    [8_030_261_312, '8B'],
    [1_720_574_976, '1.7B'],
    [14_659_507_200, '15B'],
    [421_290_864, '421M'],
    [70_553_706_560, '71B'],
    [0, null],
  ])('labels %d as %s', (count, label) => {
    expect(sizeLabelFromCount(count)).toBe(label);
  });
});

describe('fileTypeName', () => {
  it.each([
    [0, 'F32'],
    [1, 'F16'],
    [7, 'Q8_0'],
    [15, 'Q4_K_M'],
    [18, 'Q6_K'],
    [32, 'BF16'],
    [38, 'MXFP4_MOE'],
    [1024 + 15, 'Q4_K_M'],
    [5, null],
    [-1, null],
    [undefined, null],
  ])('names file type %s %s', (fileType, name) => {
    expect(fileTypeName(fileType)).toBe(name);
  });
});

describe('quantizationFromFileName', () => {
  it.each([
    ['Qwen3-4B-Q4_K_M.gguf', 'Q4_K_M'],
    ['Llama-3.3-70B-Instruct-Q4_K_M-00001-of-00002.gguf', 'Q4_K_M'],
    ['mmproj-gemma-3-12b-it-f16.gguf', 'F16'],
    ['model.IQ3_XXS.gguf', 'IQ3_XXS'],
    ['model-bf16.gguf', 'BF16'],
    ['Qwen3-4B.gguf', null],
  ])('reads %s as %s', (file, quant) => {
    expect(quantizationFromFileName(file)).toBe(quant);
  });
});
