import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const PROJECT_ROOT = resolve(__dirname, '..', '..');

/**
 * Compiles src/ into a private folder under .test-dist/ (plain tsc, no Swagger plugin),
 * so process tests never race with `npm start`'s own build of dist/.
 */
export function buildPrivateDist(name: string): string {
  const out = join(PROJECT_ROOT, '.test-dist', `${name}-${process.pid}`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  execFileSync(process.execPath, [join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', out], {
    cwd: PROJECT_ROOT,
    stdio: 'pipe',
  });
  if (!existsSync(join(out, 'main.js'))) throw new Error(`build produced no main.js in ${out}`);
  return join(out, 'main.js');
}
