/**
 * Robustness figures (issue 6): runs the fuzz and crash-safety suites and reports what they
 * recorded in test-results/ (cases sent, 5xx seen; kill rounds, corrupt files, lost writes).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../test/support/build';
import { fmt } from './support';

function figures(name: string): Record<string, number | string> {
  return JSON.parse(readFileSync(join(PROJECT_ROOT, 'test-results', `${name}.json`), 'utf8'));
}

export function run(): Promise<string> {
  execFileSync(
    process.execPath,
    [join(PROJECT_ROOT, 'node_modules', 'jest', 'bin', 'jest.js'), 'test/e2e/fuzz', 'test/e2e/crash-safety'],
    {
      cwd: PROJECT_ROOT,
      stdio: 'inherit',
    },
  );
  const fuzz = figures('fuzz');
  const crash = figures('crash-safety');
  return Promise.resolve(
    [
      '## Robustness (issue 6)',
      '',
      '| check | figure | must be |',
      '|---|---|---|',
      `| fuzz: generated bad requests answered (every route of the OpenAPI document) | ${fmt(Number(fuzz.requestsAnswered))} of ${fmt(Number(fuzz.casesGenerated))} | ≥ 2,000 |`,
      `| fuzz: 5xx answers | ${fuzz.serverErrors} | 0 |`,
      `| fuzz: 4xx answers without the error shape | ${fuzz.unshaped4xx} | 0 |`,
      `| crash safety: SIGKILL rounds during registry and profile writes | ${crash.rounds} | ≥ 20 |`,
      `| crash safety: corrupt or partial files after a kill | ${crash.corruptFiles} | 0 |`,
      `| crash safety: acknowledged writes lost | ${crash.lostAcknowledgedWrites} | 0 |`,
      '',
      'Both come from the test suite (`test/e2e/fuzz.e2e-spec.ts`, `test/e2e/crash-safety.e2e-spec.ts`), which also asserts them in CI; the soak below is the part that does not run in CI.',
    ].join('\n'),
  );
}
