import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EXPECTED as expected, extraCorpusDir, useCorpus } from '../../../test/support/corpus';
import { buildGgufHeader, GgufWriteOptions, openByteSource } from '../../../test/support/gguf-writer';
import { ByteSource, GgufHeader, GgufParseError, GgufParseOptions, GgufType, parseGgufHeader } from './gguf-reader';
import { deriveModelInfo } from './model-info';

const corpus = useCorpus();

/** Wraps a source to record what was asked of it. */
function recording(src: ByteSource): ByteSource & { calls: number; largest: number; total: number } {
  const rec = {
    size: src.size,
    calls: 0,
    largest: 0,
    total: 0,
    read(position: number, length: number, into?: Buffer) {
      rec.calls++;
      rec.largest = Math.max(rec.largest, length);
      rec.total += length;
      return src.read(position, length, into);
    },
  };
  return rec;
}

function memorySource(bytes: Buffer, maxPerRead = Infinity): ByteSource {
  return {
    size: bytes.length,
    async read(position, length) {
      // A fresh buffer each time: the reader must cope with sources that ignore `into`.
      return Buffer.from(bytes.subarray(position, position + Math.min(length, maxPerRead)));
    },
  };
}

async function parseCorpusFile(
  file: string,
  opts?: GgufParseOptions,
): Promise<{ header: GgufHeader; size: number; largestRead: number; requested: number }> {
  const src = await openByteSource(corpus().path(file));
  try {
    const rec = recording(src);
    const header = await parseGgufHeader(rec, opts);
    return { header, size: src.size, largestRead: rec.largest, requested: rec.total };
  } finally {
    await src.close();
  }
}

async function rejectionOf(promise: Promise<unknown>): Promise<GgufParseError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GgufParseError);
  return err as GgufParseError;
}

/** The message a crafted header is rejected with. */
async function failureOf(bytes: Buffer): Promise<string> {
  return (await rejectionOf(parseGgufHeader(memorySource(bytes)))).message;
}

function built(opts: GgufWriteOptions): Buffer {
  return Buffer.concat(buildGgufHeader(opts).chunks);
}

describe('parseGgufHeader', () => {
  describe('on the generated corpus', () => {
    const single = expected.models.filter((m) => m.split === null);

    it.each(single.map((m) => [m.file, m]))('reads %s', async (_file, model) => {
      const m = model;
      const { header: sut, size } = await parseCorpusFile(m.file);

      expect(sut.version).toBe(3);
      expect(sut.tensorCount).toBe(m.tensorCount);
      expect(sut.parameterCount).toBe(m.parameterCount);
      expect(sut.metadata['general.architecture']).toBe(m.architecture);
      expect(sut.metadata['general.file_type']).toBe(m.fileType);
      expect(sut.metadata[`${m.architecture}.context_length`]).toBe(m.contextLength);
      expect(sut.metadata[`${m.architecture}.block_count`]).toBe(m.blockCount);
      expect(sut.metadata[`${m.architecture}.embedding_length`]).toBe(m.embeddingLength);
      expect(sut.metadata['tokenizer.ggml.tokens']).toEqual({ type: 'string', length: m.vocabSize });
      expect(sut.metadata[`${m.architecture}.expert_count`] ?? null).toBe(m.expertCount);
      expect(sut.metadata[`${m.architecture}.expert_used_count`] ?? null).toBe(m.expertUsedCount);
      // The corpus files end right after the header padding.
      expect(sut.headerBytes).toBe(size);
      expect(sut.kvCount).toBe(Object.keys(sut.metadata).length);
    });

    it('finds the <think> token in exactly the vocabularies of the thinking models', async () => {
      for (const m of expected.models.filter((x) => x.split === null)) {
        const { header } = await parseCorpusFile(m.file);
        expect({ file: m.file, think: header.hasThinkToken }).toEqual({ file: m.file, think: m.isThinkingModel });
      }
    });

    it('reads the chat template and small arrays as values, and big arrays as summaries', async () => {
      const { header: sut } = await parseCorpusFile('Meta-Llama-3.1-8B-Instruct-Q8_0.gguf');

      expect(sut.metadata['general.tags']).toEqual([
        'facebook',
        'meta',
        'pytorch',
        'llama',
        'llama-3',
        'text-generation',
      ]);
      expect(sut.metadata['tokenizer.ggml.token_type']).toEqual({ type: 'int32', length: 128256 });
      expect(sut.metadata['tokenizer.ggml.merges']).toEqual({ type: 'string', length: 280147 });
      expect(sut.metadata['llama.rope.freq_base']).toBe(500000);
      expect(sut.metadata['tokenizer.chat_template']).toContain('<|start_header_id|>');
    });

    it('sums the parameter count over the three shards of the 70B split model', async () => {
      const model = expected.models.find((m) => m.split !== null)!;
      const shards = await Promise.all(model.split!.files.map((f) => parseCorpusFile(f)));

      expect(shards).toHaveLength(3);
      expect(shards.reduce((n, s) => n + s.header.parameterCount, 0)).toBe(model.parameterCount);
      expect(shards.reduce((n, s) => n + s.header.tensorCount, 0)).toBe(model.tensorCount);
      expect(shards.every((s) => s.header.tensorCount > 0)).toBe(true);
      expect(shards[0].header.metadata).toMatchObject({
        'general.architecture': 'llama',
        'llama.context_length': model.contextLength,
        'split.no': 0,
        'split.count': 3,
        'split.tensors.count': 724,
      });
      // The later shards carry nothing but the split keys.
      expect(shards[1].header.metadata).toEqual({ 'split.no': 1, 'split.count': 3, 'split.tensors.count': 724 });
      expect(shards[2].header.metadata).toEqual({ 'split.no': 2, 'split.count': 3, 'split.tensors.count': 724 });
    });

    it('reads the MoE hyperparameters of Qwen3-30B-A3B', async () => {
      const { header: sut } = await parseCorpusFile('Qwen3-30B-A3B-Q4_K_M.gguf');

      expect(sut.metadata).toMatchObject({
        'general.architecture': 'qwen3moe',
        'qwen3moe.expert_count': 128,
        'qwen3moe.expert_used_count': 8,
        'qwen3moe.expert_feed_forward_length': 768,
        'qwen3moe.attention.head_count_kv': 4,
      });
      expect(sut.parameterCount).toBe(30_532_122_624);
    });

    it('reads the projector header', async () => {
      const p = expected.projectorDetails[0];
      const { header: sut } = await parseCorpusFile(p.file);

      expect(sut.metadata['general.architecture']).toBe('clip');
      expect(sut.parameterCount).toBe(p.parameterCount);
      expect(sut.metadata['clip.vision.image_mean']).toHaveLength(3);
    });

    it('reads each byte once, in chunks of at most 1 MiB', async () => {
      const { header: sut, size, largestRead, requested } = await parseCorpusFile('gemma-3-12b-it-Q4_K_M.gguf');

      expect(largestRead).toBeLessThanOrEqual(1024 * 1024);
      expect(requested).toBe(size);
      expect(sut.bytesRead).toBe(size);
    });

    it('gives the same results when many files are parsed at once', async () => {
      const files = expected.models.map((m) => m.file);
      const one = async (f: string) => (await parseCorpusFile(f)).header;
      const alone: GgufHeader[] = [];
      for (const f of files) alone.push(await one(f));

      const together = await Promise.all(files.map(one));

      expect(together).toEqual(alone);
    });

    it('gives the same result with small chunks and short reads', async () => {
      const file = 'Qwen3-4B-Q4_K_M.gguf';
      const { header: reference } = await parseCorpusFile(file);
      const bytes = fs.readFileSync(corpus().path(file));

      const small = await parseGgufHeader(memorySource(bytes), { chunkSize: 64 * 1024 });
      const short = await parseGgufHeader(memorySource(bytes, 4093));

      for (const sut of [small, short]) {
        expect(sut.metadata).toEqual(reference.metadata);
        expect(sut.parameterCount).toBe(reference.parameterCount);
        expect(sut.hasThinkToken).toBe(true);
        expect(sut.headerBytes).toBe(reference.headerBytes);
      }
    });
  });

  describe('on the broken corpus files', () => {
    const messages: Record<string, RegExp> = {
      'empty.gguf': /^empty file$/,
      'not-a-model.gguf': /^not a GGUF file \(bad magic\)$/,
      'truncated.gguf': /^truncated header at byte \d+/,
      'huge-string.gguf': /length 1152921504606846976 at byte \d+ exceeds/,
      'too-many-tensors.gguf': /^tensor_count 1099511627776 cannot fit/,
    };

    it('covers every broken file the corpus lists', () => {
      expect(expected.broken.map((b) => b.file).sort()).toEqual(Object.keys(messages).sort());
      expect(expected.broken.every((b) => corpus().files.includes(b.file))).toBe(true);
    });

    it.each(Object.entries(messages))('rejects %s', async (file, message) => {
      const err = await rejectionOf(parseCorpusFile(file));
      expect(err.message).toMatch(message);
    });

    it.each(['huge-string.gguf', 'too-many-tensors.gguf', 'truncated.gguf'])(
      'rejects %s without reading past the file or allocating for the declared size',
      async (file) => {
        const src = await openByteSource(corpus().path(file));
        const rec = recording(src);
        const before = process.memoryUsage().arrayBuffers;
        try {
          await rejectionOf(parseGgufHeader(rec));
        } finally {
          await src.close();
        }
        expect(rec.total).toBeLessThanOrEqual(src.size);
        expect(rec.largest).toBeLessThanOrEqual(1024 * 1024);
        // Only the two reused chunk buffers at most, never anything the size of the declared data.
        expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024);
      },
    );
  });

  describe('on every file of the corpus, and of $GGUF_CORPUS when set', () => {
    /** Parses `file`: a header that deriveModelInfo can describe, or a GgufParseError, nothing else. */
    async function outcome(file: string): Promise<'parsed' | 'refused'> {
      const src = await openByteSource(file);
      try {
        const header = await parseGgufHeader(src).catch((e: unknown) => e as Error);
        if (header instanceof Error) {
          expect({ file, error: header }).toEqual({ file, error: expect.any(GgufParseError) });
          return 'refused';
        }
        expect(header.headerBytes).toBeLessThanOrEqual(src.size);
        expect(header.kvCount).toBe(Object.keys(header.metadata).length);
        expect(deriveModelInfo(header, path.basename(file)).parameterCount).toBe(header.parameterCount);
        return 'parsed';
      } finally {
        await src.close();
      }
    }

    it('parses every model, shard and projector file and refuses every broken one', async () => {
      const broken = new Set(expected.broken.map((b) => b.file));
      for (const f of corpus().files) {
        expect({ f, got: await outcome(corpus().path(f)) }).toEqual({ f, got: broken.has(f) ? 'refused' : 'parsed' });
      }
    });

    // An extra input only: GGUF_CORPUS names a folder of real files (never needed, never a default).
    const extra = extraCorpusDir();
    if (extra) {
      it(`parses or refuses with a GgufParseError every .gguf in $GGUF_CORPUS (${extra})`, async () => {
        const files = fs.readdirSync(extra).filter((f) => f.endsWith('.gguf'));
        expect(files.length).toBeGreaterThan(0);
        for (const f of files) expect(['parsed', 'refused']).toContain(await outcome(path.join(extra, f)));
      });
    }
  });

  describe('on crafted headers', () => {
    const small: GgufWriteOptions = { vocabSize: 0, parameterCount: 1000, tensorCount: 4 };

    it('reads GGUF v2', async () => {
      const sut = await parseGgufHeader(memorySource(built({ ...small, version: 2 })));

      expect(sut.version).toBe(2);
      expect(sut.parameterCount).toBe(1000);
    });

    it.each([
      [1, /^unsupported GGUF version 1$/],
      [4, /^unsupported GGUF version 4$/],
      [0x03000000, /big-endian/],
    ])('rejects version %d', async (version, message) => {
      const bytes = built(small);
      bytes.writeUInt32LE(version, 4);

      expect(await failureOf(bytes)).toMatch(message);
    });

    it('rejects a file shorter than the fixed header', async () => {
      expect(await failureOf(built(small).subarray(0, 10))).toMatch(/^truncated header at byte 0/);
    });

    it('rejects a kv_count the file cannot hold', async () => {
      const bytes = built(small);
      bytes.writeBigUInt64LE(1n << 62n, 16);

      expect(await failureOf(bytes)).toMatch(/^kv_count 4611686018427387904 cannot fit/);
    });

    it('rejects an unknown value type', async () => {
      const bytes = built({ ...small, architecture: null, extra: [{ key: 'x', type: GgufType.UINT8, value: 1 }] });
      // The only KV: key "x" (8 + 1 bytes) after the 24-byte header, then its type.
      bytes.writeUInt32LE(13, 24 + 9);

      expect(await failureOf(bytes)).toMatch(/^unknown value type 13 for key "x"/);
    });

    it('rejects a tensor with more than 8 dimensions', async () => {
      const bytes = built({ ...small, architecture: null, tensorCount: 1, parameterCount: 7 });
      // The only tensor info follows the header: its name "token_embd.weight" (8 + 17 bytes), then n_dims.
      bytes.writeUInt32LE(9, 24 + 8 + 'token_embd.weight'.length);

      expect(await failureOf(bytes)).toMatch(/has 9 dimensions/);
    });

    it('rejects a string that runs past the end of the file', async () => {
      const bytes = built({ ...small, architecture: null, tensorCount: 0, parameterCount: 0, name: 'abc' });
      bytes.writeBigUInt64LE(BigInt(bytes.length), 24 + 8 + 'general.name'.length + 4);

      expect(await failureOf(bytes)).toMatch(/^truncated header at byte/);
    });

    it('rejects duplicate keys', async () => {
      const dup = { key: 'general.name', type: GgufType.STRING, value: 'x' };
      const bytes = built({ ...small, name: 'a', extra: [dup] });

      expect(await failureOf(bytes)).toMatch(/duplicate metadata key "general.name"/);
    });

    it('reads every value type, nested arrays and 64-bit extremes', async () => {
      const bytes = built({
        ...small,
        extra: [
          { key: 'u8', type: GgufType.UINT8, value: 200 },
          { key: 'i8', type: GgufType.INT8, value: -5 },
          { key: 'u16', type: GgufType.UINT16, value: 65535 },
          { key: 'i16', type: GgufType.INT16, value: -300 },
          { key: 'i32', type: GgufType.INT32, value: -70000 },
          { key: 'f32', type: GgufType.FLOAT32, value: 0.5 },
          { key: 'f64', type: GgufType.FLOAT64, value: 1e-300 },
          { key: 'bool', type: GgufType.BOOL, value: true },
          { key: 'u64', type: GgufType.UINT64, value: 2n ** 64n - 1n },
          { key: 'u64small', type: GgufType.UINT64, value: 123 },
          { key: 'i64', type: GgufType.INT64, value: -(2n ** 63n) },
          { key: 'i64small', type: GgufType.INT64, value: -7 },
          {
            key: 'nested',
            type: GgufType.ARRAY,
            itemType: GgufType.ARRAY,
            value: [
              { itemType: GgufType.UINT8, value: [1, 2] },
              { itemType: GgufType.STRING, value: ['a'] },
            ],
          },
          { key: 'big', type: GgufType.ARRAY, itemType: GgufType.FLOAT32, value: new Array(1000).fill(0) },
          { key: '__proto__', type: GgufType.STRING, value: 'inert' },
        ],
      });

      const sut = (await parseGgufHeader(memorySource(bytes))).metadata;

      expect(sut).toMatchObject({
        u8: 200,
        i8: -5,
        u16: 65535,
        i16: -300,
        i32: -70000,
        f32: 0.5,
        f64: 1e-300,
        bool: true,
        u64: 2n ** 64n - 1n,
        u64small: 123,
        i64: -(2n ** 63n),
        i64small: -7,
        nested: [[1, 2], ['a']],
        big: { type: 'float32', length: 1000 },
      });
      expect(Object.getPrototypeOf(sut)).toBeNull();
      expect(sut['__proto__']).toBe('inert');
    });

    it('honours general.alignment for the start of the tensor data', async () => {
      const sut = await parseGgufHeader(memorySource(built({ ...small, alignment: 4096 })));

      expect(sut.alignment).toBe(4096);
      expect(sut.headerBytes % 4096).toBe(0);
    });

    it('rejects an alignment that is not a power of two', async () => {
      const bytes = built({ ...small, extra: [{ key: 'general.alignment', type: GgufType.UINT32, value: 48 }] });

      expect(await failureOf(bytes)).toMatch(/power of two/);
    });

    it('finds <think> when the vocabulary is the last thing in the file', async () => {
      // No tensors and the vocabulary as last KV: the walk must not ask for bytes past EOF.
      const padded = built({ architecture: null, vocabSize: 300, thinkToken: true, tokenTypes: false });
      let end = padded.length;
      while (padded[end - 1] === 0) end--;
      const sut = await parseGgufHeader(memorySource(padded.subarray(0, end)));

      expect(sut.hasThinkToken).toBe(true);
      expect(sut.metadata['tokenizer.ggml.tokens']).toEqual({ type: 'string', length: 300 });
    });

    it('finds <think> in a short vocabulary kept as values', async () => {
      const bytes = built({ ...small, vocabSize: 10, thinkToken: true });

      expect((await parseGgufHeader(memorySource(bytes))).hasThinkToken).toBe(true);
    });

    it('reads strings longer than the read-ahead window', async () => {
      const template = `{{ '<think>' }}${'x'.repeat(200_000)}`;
      const sut = await parseGgufHeader(memorySource(built({ ...small, chatTemplate: template })), {
        chunkSize: 64 * 1024,
      });

      expect(sut.metadata['tokenizer.chat_template']).toBe(template);
      expect(sut.parameterCount).toBe(1000);
    });

    it('reads a file written to disk through a file handle', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gguf-reader-'));
      try {
        const file = path.join(dir, 'm.gguf');
        fs.writeFileSync(file, built({ ...small, vocabSize: 150_000, thinkToken: true, mergesCount: 150_000 }));
        const src = await openByteSource(file);
        const sut = await parseGgufHeader(src).finally(() => src.close());

        expect(sut.hasThinkToken).toBe(true);
        expect(sut.metadata['tokenizer.ggml.merges']).toEqual({ type: 'string', length: 150_000 });
        expect(sut.headerBytes).toBe(src.size);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
