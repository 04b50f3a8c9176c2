/**
 * What every `npm run test:real` suite needs: a llama-server binary (LLAMA_SERVER_PATH) and a
 * small model it can load (LLAMA_TEST_MODEL). Without them the suite fails at once, saying so,
 * rather than passing on nothing (README "Against a real llama-server" says how to get both).
 */
import { existsSync } from 'node:fs';

export const BINARY = process.env.LLAMA_SERVER_PATH ?? '';
export const MODEL = process.env.LLAMA_TEST_MODEL ?? '';
if (!existsSync(BINARY) || !existsSync(MODEL)) {
  throw new Error(
    'npm run test:real needs LLAMA_SERVER_PATH (a llama-server binary) and LLAMA_TEST_MODEL (a .gguf it can load)',
  );
}
