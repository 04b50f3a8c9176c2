import { checkRepo, destinationSegments, parseRepoId, repoFilePathProblem, revisionProblem } from './repo-path';

describe('repo-path', () => {
  describe('parseRepoId', () => {
    it.each(['Qwen/Qwen3-0.6B-GGUF', 'unsloth/gemma-3-12b-it-GGUF', 'a/b', 'org_1/model.v2'])('accepts %s', (id) => {
      expect(parseRepoId(id).problems).toEqual([]);
    });

    it.each([
      '..%2f..%2fetc/passwd',
      '../x',
      'owner/..',
      'owner/.',
      'a/b/c',
      'noslash',
      '/abs',
      'owner\\x/repo',
      'own%2e%2e/repo',
      'owner/re\u0000po',
      'owner/\u2025',
      'owner/\uff0e\uff0e',
      'owner/x\u2215y',
      'owner/a..b',
      '-lead/repo',
      'owner/repo.git',
      'o'.repeat(97) + '/repo',
      ' owner/repo',
      'ówner/repo',
    ])('refuses %j', (id) => {
      expect(parseRepoId(id).repo).toBeNull();
      expect(parseRepoId(id).problems.length).toBeGreaterThan(0);
    });

    it('names the field of each problem', () => {
      expect(checkRepo('..', 'ok').problems).toEqual([{ field: 'owner', reason: expect.any(String) }]);
      expect(checkRepo('ok', 'a%2fb').problems).toEqual([{ field: 'repo', reason: expect.any(String) }]);
    });
  });

  describe('repoFilePathProblem', () => {
    it.each([
      'Qwen3-0.6B-Q4_K_M.gguf',
      'Q4_K_M/Llama-3.3-70B-Instruct-Q4_K_M-00001-of-00003.gguf',
      'sub/dir/mmproj-F16.gguf',
      '.hidden/model.gguf',
      'model (1).gguf',
    ])('accepts %s', (p) => {
      expect(repoFilePathProblem(p)).toBeNull();
    });

    it.each([
      ['', 'is empty'],
      ['../model.gguf', '`.` or `..`'],
      ['a/../../model.gguf', '`.` or `..`'],
      ['./model.gguf', '`.` or `..`'],
      ['/etc/passwd', 'absolute'],
      ['C:/x.gguf', 'absolute'],
      ['\\\\server\\share\\x.gguf', 'absolute'],
      ['a\\..\\..\\x.gguf', 'not allowed'],
      ['%2e%2e/x.gguf', 'not allowed'],
      ['%2e%2e%2fx.gguf', 'not allowed'],
      ['..%2fx.gguf', 'not allowed'],
      ['x%00.gguf', 'not allowed'],
      ['x\u0000.gguf', 'not allowed'],
      ['a//b.gguf', 'empty segment'],
      ['a/b.gguf/', 'empty segment'],
      ['\u2025/x.gguf', '`.` or `..`'],
      ['\uff0e\uff0e/x.gguf', '`.` or `..`'],
      ['\u2024\u2024/x.gguf', '`.` or `..`'],
      ['a\uff0fb.gguf', 'not allowed'],
      ['a\uff3cb.gguf', 'not allowed'],
      ['\uff0fetc/x.gguf', 'absolute'],
      ['.../x.gguf', 'dots'],
      ['dir./x.gguf', 'dot'],
      ['x'.repeat(256), 'longer than 255'],
      [Array(17).fill('d').join('/'), 'deeper'],
    ])('refuses %j (%s)', (p, reason) => {
      expect(repoFilePathProblem(p)).toContain(reason);
    });
  });

  describe('revisionProblem', () => {
    it.each(['main', 'v1.0', 'refs/pr/1', 'a'.repeat(40)])('accepts %s', (r) => expect(revisionProblem(r)).toBeNull());
    it.each(['', '../main', 'a b', 'ma\u0000in', 'a\\b', 'refs//x'])('refuses %j', (r) =>
      expect(revisionProblem(r)).not.toBeNull(),
    );
  });

  describe('destinationSegments', () => {
    it('puts a file under owner/repo', () => {
      expect(destinationSegments({ owner: 'o', name: 'r' }, 'q/m.gguf')).toEqual(['o', 'r', 'q', 'm.gguf']);
    });
    it('throws for a path that would leave the folder', () => {
      expect(() => destinationSegments({ owner: 'o', name: 'r' }, '../../x.gguf')).toThrow(/unsafe/);
    });
  });
});
