import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** The shared GGUF corpus (sibling `shared/` of the repo), or GGUF_CORPUS. */
export const CORPUS_DIR = process.env.GGUF_CORPUS ?? resolve(__dirname, '..', '..', '..', 'shared', 'gguf-corpus');

export function corpusAvailable(): boolean {
  return existsSync(resolve(CORPUS_DIR, 'expected.json'));
}

export interface ExpectedModel {
  file: string;
  architecture: string;
  family: string;
  familyAlternatives: string[];
  parameterCount: number;
  sizeParams: number;
  quantization: string;
  contextLength: number;
  isThinkingModel: boolean;
  split: { count: number; files: string[] } | null;
  mmproj: string | null;
  sizeLabel: string;
  name: string;
}

export interface ExpectedCorpus {
  models: ExpectedModel[];
  projectors: string[];
  projectorDetails: Array<{ file: string; parameterCount: number; sizeParams: number; quantization: string }>;
  broken: Array<{ file: string; why: string }>;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const loadExpected = (): ExpectedCorpus => require(resolve(CORPUS_DIR, 'expected.json')) as ExpectedCorpus;
