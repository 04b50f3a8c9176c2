import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { GgufParseError, GgufType, parseGgufHeader } from '../../src/registry/gguf/gguf-reader';
import { deriveModelInfo } from '../../src/registry/gguf/model-info';
import {
  buildGgufFile,
  buildGgufHeader,
  GgmlType,
  GgufBreakage,
  openByteSource,
  writeBrokenGgufFile,
  writeGgufFile,
  writeGgufLayout,
} from './gguf-writer';

describe('gguf-writer', () => {
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gguf-writer-'));
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function parse(file: string) {
    const src = await openByteSource(file);
    try {
      return await parseGgufHeader(src);
    } finally {
      await src.close();
    }
  }

  describe('writeGgufFile', () => {
    it('writes a header that parses back to the values it was given', async () => {
      const file = path.join(dir, 'Qwen3-4B-Q4_K_M.gguf');
      const written = await writeGgufFile(file, {
        architecture: 'qwen3',
        name: 'Qwen3 4B',
        basename: 'Qwen3',
        sizeLabel: '4B',
        fileType: 15,
        contextLength: 40960,
        chatTemplate: "{{ '<think>\\n' }}",
        vocabSize: 150_000,
        thinkToken: true,
        mergesCount: 1000,
        parameterCount: 4_022_468_096,
        tensorCount: 398,
      });

      const sut = await parse(file);

      expect(sut.metadata).toMatchObject({
        'general.architecture': 'qwen3',
        'general.name': 'Qwen3 4B',
        'general.basename': 'Qwen3',
        'general.size_label': '4B',
        'general.file_type': 15,
        'qwen3.context_length': 40960,
        'tokenizer.chat_template': "{{ '<think>\\n' }}",
        'tokenizer.ggml.tokens': { type: 'string', length: 150_000 },
        'tokenizer.ggml.token_type': { type: 'int32', length: 150_000 },
        'tokenizer.ggml.merges': { type: 'string', length: 1000 },
      });
      expect(sut.parameterCount).toBe(4_022_468_096);
      expect(sut.tensorCount).toBe(398);
      expect(sut.hasThinkToken).toBe(true);
      expect(sut.headerBytes).toBe(written.size);
      expect(fs.statSync(file).size).toBe(written.size);
      expect(deriveModelInfo(sut, file)).toMatchObject({
        family: 'qwen3',
        quantization: 'Q4_K_M',
        sizeParams: 4.02,
        isThinkingModel: true,
      });
    });

    it('leaves <think> out of the vocabulary unless asked', async () => {
      const file = path.join(dir, 'plain.gguf');
      await writeGgufFile(file, { parameterCount: 8_030_261_312 });

      const sut = await parse(file);

      expect(sut.hasThinkToken).toBe(false);
      expect(sut.parameterCount).toBe(8_030_261_312);
      expect(sut.metadata['tokenizer.ggml.tokens']).toEqual({ type: 'string', length: 150_000 });
    });

    it('writes a later shard of a split model with only split keys', async () => {
      const file = path.join(dir, 'big-Q4_K_M-00002-of-00003.gguf');
      await writeGgufFile(file, {
        architecture: null,
        vocabSize: 0,
        splitNo: 1,
        splitCount: 3,
        parameterCount: 5000,
        tensorCount: 5,
      });

      const sut = await parse(file);

      expect(sut.metadata).toEqual({ 'split.no': 1, 'split.count': 3, 'split.tensors.count': 5 });
      expect(deriveModelInfo(sut, file).split).toMatchObject({ no: 1, count: 3 });
    });

    it('writes GGUF v2 on request', async () => {
      const file = path.join(dir, 'v2.gguf');
      await writeGgufFile(file, { version: 2, vocabSize: 100 });

      expect((await parse(file)).version).toBe(2);
    });

    it('reuses the vocabulary block between files instead of rebuilding it', () => {
      const a = buildGgufHeader({ vocabSize: 150_000, mergesCount: 150_000 }).chunks;
      const b = buildGgufHeader({ vocabSize: 150_000, mergesCount: 150_000, name: 'other' }).chunks;
      const big = (chunks: Buffer[]) => chunks.filter((c) => c.length > 100_000);

      expect(big(a)).toHaveLength(3);
      big(a).forEach((chunk, i) => expect(big(b)[i]).toBe(chunk));
    });
  });

  describe('writeGgufLayout', () => {
    const layout = {
      kvs: [
        { key: 'general.architecture', type: GgufType.STRING, value: 'qwen3' },
        { vocab: 'tokens' as const, count: 1000, thinkTokenId: 400 },
        { vocab: 'token_type' as const, count: 1000 },
        { key: 'qwen3.block_count', type: GgufType.UINT32, value: 1 },
      ],
      tensors: [
        { name: 'token_embd.weight', dims: [256, 1000], type: GgmlType.Q6_K },
        { name: 'blk.0.attn_norm.weight', dims: [256], type: GgmlType.F32 },
        { name: 'blk.0.ffn_down_exps.weight', dims: [512, 256, 4], type: GgmlType.Q4_K },
      ],
    };

    it('writes the KVs in order and the tensor infos as given, sized by their ggml types', async () => {
      const file = path.join(dir, 'layout.gguf');
      const written = await writeGgufLayout(file, layout);

      const sut = await parse(file);

      expect(Object.keys(sut.metadata)).toEqual([
        'general.architecture',
        'tokenizer.ggml.tokens',
        'tokenizer.ggml.token_type',
        'qwen3.block_count',
      ]);
      expect(sut.hasThinkToken).toBe(true);
      expect(sut.parameterCount).toBe(256 * 1000 + 256 + 512 * 256 * 4);
      expect(sut.tensorCount).toBe(3);
      expect(sut.headerBytes).toBe(written.size);
      // Q6_K: 210 bytes per 256 elements (210,000, padded to 32: 210,016); F32: 1024; Q4_K: 144 per 256.
      expect(written.tensorDataBytes).toBe(210_016 + 1024 + 2048 * 144);
    });

    it('refuses a shape whose rows are not whole blocks of its type', () => {
      const bad = { kvs: [], tensors: [{ name: 'x.weight', dims: [100, 2], type: GgmlType.Q4_K }] };

      expect(() => buildGgufFile(bad)).toThrow(/not a multiple of Q4_K's block of 256/);
    });
  });

  describe('writeBrokenGgufFile', () => {
    it.each<[string, GgufBreakage, RegExp]>([
      ['truncated', { kind: 'truncated', at: 300_000 }, /^truncated header at byte \d+/],
      ['bad-magic', { kind: 'bad-magic' }, /^not a GGUF file \(bad magic\)$/],
      ['huge-string', { kind: 'huge-string' }, /length 1152921504606846976 at byte \d+ exceeds/],
      ['huge-tensor-count', { kind: 'huge-tensor-count' }, /^tensor_count 1099511627776 cannot fit/],
    ])('writes a %s file the reader rejects', async (_kind, breakage, message) => {
      const file = path.join(dir, 'broken.gguf');
      await writeBrokenGgufFile(file, breakage, { parameterCount: 1_000_000 });

      const err = await parse(file).then(
        () => undefined,
        (e: unknown) => e,
      );

      expect(err).toBeInstanceOf(GgufParseError);
      expect((err as Error).message).toMatch(message);
    });

    it('overwrites the length of an existing string KV in place', async () => {
      const opts = { name: 'a', basename: 'b' };
      const file = path.join(dir, 'huge.gguf');
      await writeBrokenGgufFile(file, { kind: 'huge-string', key: 'general.basename' }, opts);

      expect(fs.statSync(file).size).toBe(buildGgufHeader(opts).result.size);
      await expect(parse(file)).rejects.toThrow(/string "general.basename" length 1152921504606846976/);
    });

    it('truncates at the byte asked for', async () => {
      const file = path.join(dir, 'cut.gguf');
      await writeBrokenGgufFile(file, { kind: 'truncated', at: 12345 });

      expect(fs.statSync(file).size).toBe(12345);
    });
  });
});
