import { basename } from 'node:path';
import { FileStore } from '../common/io/file-store';
import { GgufHeader, parseGgufHeader } from './gguf/gguf-reader';
import { deriveModelInfo, suggestModelIdBase } from './gguf/model-info';
import { MEMORY_PARSE_OPTIONS, modelMemoryFacts, tensorDataBytes } from './memory';
import type { FileInfo, FileMemory } from './registry.types';

/**
 * Version of what `fileMemoryOf` derives. Raise it when src/registry/memory derives facts
 * differently (a new architecture, a fixed rule): records of another version are read again
 * at the next scan, so every model gets the new facts without anyone touching its files.
 */
export const MEMORY_FACTS_VERSION = 1;

/** What one header tells the memory estimate: its tensors' bytes, and the facts when it carries the hyperparameters. */
export function fileMemoryOf(header: GgufHeader): FileMemory {
  let tensorBytes: number | null = 0;
  for (const t of header.tensors ?? []) {
    const bytes = tensorDataBytes(t.dims, t.type);
    if (bytes === null) {
      tensorBytes = null;
      break;
    }
    tensorBytes += bytes;
  }
  if (!header.tensors) tensorBytes = null;
  let facts: FileMemory['facts'] = null;
  try {
    // Null for projectors (clip) and later shards (no general.architecture): only a model's first file tells.
    facts = modelMemoryFacts([header]);
  } catch {
    // A header the rules trip over costs the model its estimate, never its place in the registry.
  }
  return { version: MEMORY_FACTS_VERSION, tensorBytes, facts };
}

/**
 * Reads one file's GGUF header through the FileStore port, once: what discovery shows and
 * what the memory estimate needs (tensor infos included). Errors become a reason, never a throw.
 */
export async function readFileInfo(files: FileStore, path: string): Promise<{ info?: FileInfo; error?: string }> {
  let file;
  try {
    file = await files.open(path);
  } catch (e) {
    return { error: `cannot open: ${(e as Error).message}` };
  }
  try {
    const header = await parseGgufHeader(file, MEMORY_PARSE_OPTIONS);
    const d = deriveModelInfo(header, basename(path));
    return {
      info: {
        architecture: d.architecture ?? null,
        family: d.family,
        version: d.version ?? null,
        sizeLabel: d.sizeLabel ?? null,
        quantization: d.quantization ?? null,
        contextLength: d.contextLength ?? null,
        isThinkingModel: d.isThinkingModel,
        displayName: d.displayName,
        name: d.displayName,
        isProjector: d.isProjector,
        split: d.split ? { no: d.split.no, count: d.split.count } : null,
        parameterCount: d.parameterCount,
        idBase: suggestModelIdBase(d),
        memory: fileMemoryOf(header),
      },
    };
  } catch (e) {
    return { error: (e as Error).message };
  } finally {
    await file.close().catch(() => undefined);
  }
}
