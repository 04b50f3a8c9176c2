import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPidAlive, listProcesses, waitFor } from '../../../test/support/fixtures';
import { NodeProcessLauncher } from './process-launcher';

describe('NodeProcessLauncher (real processes)', () => {
  const sut = new NodeProcessLauncher();
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'launcher-spec-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe('launch', () => {
    it('reports stdout and stderr line by line and the exit code', async () => {
      const p = sut.launch({ command: 'sh', args: ['-c', 'echo one; echo two >&2; printf three; exit 3'] });
      const lines: string[] = [];
      p.onLine((l, s) => lines.push(`${s}:${l}`));
      const exit = await p.exited;
      expect(exit).toEqual({ code: 3, signal: null });
      expect(lines.sort()).toEqual(['stderr:two', 'stdout:one', 'stdout:three']);
    });

    it('starts the process as leader of its own process group and signals the whole group', async () => {
      const p = sut.launch({ command: 'sh', args: ['-c', 'sleep 30 & echo child $!; wait'] });
      let child = 0;
      p.onLine((l) => {
        const m = /^child (\d+)/.exec(l);
        if (m) child = Number(m[1]);
      });
      await waitFor(() => child > 0, 5000);
      const procs = listProcesses();
      expect(procs.find((x) => x.pid === p.pid)!.pgid).toBe(p.pid);
      expect(procs.find((x) => x.pid === child)!.pgid).toBe(p.pid);
      expect(p.signalGroup('SIGKILL')).toBe(true);
      expect((await p.exited).signal).toBe('SIGKILL');
      await waitFor(() => !isPidAlive(child), 5000);
    });

    it('turns a missing binary into an ENOENT spawn error instead of throwing', async () => {
      const p = sut.launch({ command: join(dir, 'missing'), args: [] });
      expect(await p.exited).toEqual({ code: null, signal: null, spawnError: { code: 'ENOENT', message: expect.any(String) } });
      expect(p.pid).toBeNull();
      expect(p.signalGroup('SIGTERM')).toBe(false);
    });

    it('turns a file that is not executable into an EACCES spawn error', async () => {
      const file = join(dir, 'not-exec');
      writeFileSync(file, '#!/bin/sh\necho hi\n');
      chmodSync(file, 0o644);
      const exit = await sut.launch({ command: file, args: [] }).exited;
      expect(exit.spawnError?.code).toBe('EACCES');
    });
  });

  describe('run', () => {
    it('collects the output of a short command', async () => {
      const r = await sut.run({ command: 'sh', args: ['-c', 'echo a; echo b'] }, { timeoutMs: 5000 });
      expect(r).toEqual(expect.objectContaining({ code: 0, stdout: 'a\nb', stderr: '', timedOut: false }));
    });

    it('kills a command that outlives its timeout', async () => {
      const r = await sut.run({ command: 'sleep', args: ['30'] }, { timeoutMs: 100 });
      expect(r.timedOut).toBe(true);
      expect(r.signal).toBe('SIGKILL');
    });
  });
});
