import { basename } from 'node:path';
import { FileStore } from '../common/io/file-store';
import { parseGgufHeader } from './gguf/gguf-reader';
import { deriveModelInfo, suggestModelIdBase } from './gguf/model-info';
import type { FileInfo } from './registry.types';

/** Reads one file's GGUF header through the FileStore port; errors become a reason, never a throw. */
export async function readFileInfo(files: FileStore, path: string): Promise<{ info?: FileInfo; error?: string }> {
  let file;
  try {
    file = await files.open(path);
  } catch (e) {
    return { error: `cannot open: ${(e as Error).message}` };
  }
  try {
    const header = await parseGgufHeader(file);
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
      },
    };
  } catch (e) {
    return { error: (e as Error).message };
  } finally {
    await file.close().catch(() => undefined);
  }
}
