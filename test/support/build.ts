import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const PROJECT_ROOT = resolve(__dirname, '..', '..');

/**
 * Compiles the project into a private folder under .test-dist/ (plain tsc, no Swagger plugin),
 * so process tests never race with `npm start`'s own build of dist/.
 */
export function buildPrivateDist(name: string, tsconfig = 'tsconfig.build.json'): string {
  const out = join(PROJECT_ROOT, '.test-dist', `${name}-${process.pid}`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  execFileSync(
    process.execPath,
    [
      join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      tsconfig,
      '--outDir',
      out,
      '--incremental',
      'false',
    ],
    {
      cwd: PROJECT_ROOT,
      stdio: 'pipe',
    },
  );
  // tsconfig.build.json roots at src/; tsconfig.json keeps src/, test/ and bench/ side by side.
  const main = existsSync(join(out, 'main.js')) ? join(out, 'main.js') : join(out, 'src', 'main.js');
  if (!existsSync(main)) throw new Error(`build produced no main.js in ${out}`);
  return main;
}
