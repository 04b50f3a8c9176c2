import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
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
    it('reports stdout and stderr together, in the order written, every line before the exit', async () => {
      const p = sut.launch({ command: 'sh', args: ['-c', 'echo one; echo two >&2; echo three; printf four; exit 3'] });
      const lines: string[] = [];
      p.onLine((l, s) => lines.push(`${s}:${l}`));
      const exit = await p.exited;
      expect(exit).toEqual({ code: 3, signal: null });
      expect(lines).toEqual(['output:one', 'output:two', 'output:three', 'output:four']);
    });

    it('with separate output, keeps stdout and stderr apart', async () => {
      const p = sut.launch({
        command: 'sh',
        args: ['-c', 'echo one; echo two >&2; printf three; exit 3'],
        output: 'separate',
      });
      const lines: string[] = [];
      p.onLine((l, s) => lines.push(`${s}:${l}`));
      expect(await p.exited).toEqual({ code: 3, signal: null });
      expect(lines.sort()).toEqual(['stderr:two', 'stdout:one', 'stdout:three']);
    });

    it('hands on output while the process runs, through a pipe that leaves no file behind', async () => {
      const before = readdirSync(tmpdir()).filter((n) => n.startsWith('magi-output-'));
      const p = sut.launch({ command: 'sh', args: ['-c', 'echo ready; exec sleep 30'] });
      const lines: string[] = [];
      p.onLine((l) => lines.push(l));
      // The timer reads it within its first polls (10 ms, then backing off).
      await waitFor(() => lines.length === 1, 5000);
      expect(lines).toEqual(['ready']);
      expect(readdirSync(tmpdir()).filter((n) => n.startsWith('magi-output-'))).toEqual(before);
      // stdout and stderr are one FIFO whose name is already gone.
      const out = readlinkSync(`/proc/${p.pid}/fd/1`);
      expect(readlinkSync(`/proc/${p.pid}/fd/2`)).toBe(out);
      expect(out).toMatch(/^pipe:\[\d+\]$|\(deleted\)$/);
      p.signalGroup('SIGKILL');
      await p.exited;
    });

    it('falls back to separate pipes where no FIFO can be made (temp dir missing)', async () => {
      const launcher = new NodeProcessLauncher();
      launcher.outputDir = join(dir, 'no-such-dir');
      const p = launcher.launch({
        command: process.execPath,
        args: ['-e', 'console.log("out"); console.error("err")'],
      });
      const lines: string[] = [];
      p.onLine((l, s) => lines.push(`${s}:${l}`));
      expect(await p.exited).toEqual({ code: 0, signal: null });
      expect(lines.sort()).toEqual(['stderr:err', 'stdout:out']);
    });

    it('a line is readable the moment readOutput is called, without waiting for the timer', async () => {
      // Quiet at first so the poll backs off; then a line, read on demand.
      const p = sut.launch({ command: 'sh', args: ['-c', 'sleep 1.2; echo late; sleep 30'] });
      const lines: string[] = [];
      p.onLine((l) => lines.push(l));
      const deadline = Date.now() + 5000;
      while (lines.length === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5));
        p.readOutput();
      }
      expect(lines).toEqual(['late']);
      p.signalGroup('SIGKILL');
      await p.exited;
    });

    it('passes 12 MiB written at full speed without losing, splitting or reordering a line', async () => {
      // The child blocks on the full pipe between two reads; multi-byte characters straddle reads.
      const script = 'for (let i = 0; i < 120000; i++) process.stdout.write(`line ${i} ' + 'é'.repeat(40) + '\\n`);';
      const p = sut.launch({ command: process.execPath, args: ['-e', script] });
      let count = 0;
      let bad = 0;
      p.onLine((l) => {
        if (l !== `line ${count} ${'é'.repeat(40)}`) bad++;
        count++;
      });
      expect(await p.exited).toEqual({ code: 0, signal: null });
      expect({ count, bad }).toEqual({ count: 120000, bad: 0 });
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
      expect(await p.exited).toEqual({
        code: null,
        signal: null,
        spawnError: { code: 'ENOENT', message: expect.any(String) },
      });
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

    describe('dieWithParent', () => {
      it.each([false, true])(
        'reports a missing binary, a file that is not executable and a folder as a plain spawn does (dieWithParent %s)',
        async (dieWithParent) => {
          const file = join(dir, 'not-exec-2');
          writeFileSync(file, '#!/bin/sh\necho hi\n');
          chmodSync(file, 0o644);
          const codes = [];
          for (const command of [join(dir, 'missing'), 'magi-no-such-binary', file, dir]) {
            codes.push((await sut.launch({ command, args: [], dieWithParent }).exited).spawnError?.code);
          }
          expect(codes).toEqual(['ENOENT', 'ENOENT', 'EACCES', 'EACCES']);
        },
      );

      it('runs the binary itself under the pid it reports, found on PATH like a plain spawn', async () => {
        const p = sut.launch({ command: 'sh', args: ['-c', 'echo $$; exit 4'], dieWithParent: true });
        const lines: string[] = [];
        p.onLine((l) => lines.push(l));
        expect(await p.exited).toEqual({ code: 4, signal: null });
        // setpriv execs the binary: the pid MAGI signals is the binary's own.
        expect(lines).toEqual([String(p.pid)]);
      });

      // A parent process (node) launches `sleep 60` and is then SIGKILLed, as an OOM kill would end MAGI.
      const orphanOf = async (dieWithParent: boolean): Promise<number> => {
        const code =
          `const { NodeProcessLauncher } = require(${JSON.stringify(join(__dirname, 'process-launcher'))});` +
          `const p = new NodeProcessLauncher().launch({ command: 'sleep', args: ['60'], dieWithParent: ${dieWithParent} });` +
          'console.log(p.pid); setInterval(() => {}, 1000);';
        const parent = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', code], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        parent.stdout.on('data', (c: Buffer) => (out += c.toString()));
        await waitFor(() => /^\d+\n/.test(out), 30_000);
        const child = Number(out.trim());
        expect(isPidAlive(child)).toBe(true);
        parent.kill('SIGKILL');
        await new Promise((r) => parent.once('exit', r));
        return child;
      };

      it('a child launched with it is killed when its parent dies without stopping it', async () => {
        const child = await orphanOf(true);
        await waitFor(() => !isPidAlive(child), 5000, 20, 'orphan killed');
      }, 60_000);

      it('a child launched without it outlives its parent (what dieWithParent prevents)', async () => {
        const child = await orphanOf(false);
        try {
          await new Promise((r) => setTimeout(r, 500));
          expect(isPidAlive(child)).toBe(true);
        } finally {
          process.kill(child, 'SIGKILL');
        }
      }, 60_000);
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
