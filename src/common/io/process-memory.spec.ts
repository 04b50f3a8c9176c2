import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ProcfsProcessMemory, modelMappingBytes, parseVmRssBytes, processMemoryBytes } from './process-memory';

const MIB = 1024 * 1024;
const KIB = 1024;

// Captured from a real kernel: a process that mapped three model files (see the README there).
const PROC = resolve(__dirname, '../../../test/fixtures/contracts/proc');
const statusText = readFileSync(join(PROC, 'status.txt'), 'utf8');
const zombieStatusText = readFileSync(join(PROC, 'status-zombie.txt'), 'utf8');
const smapsText = readFileSync(join(PROC, 'smaps.txt'), 'utf8');
const SHARD_1 = '/tmp/pmcap/models/qwen3-0.6b-Q8_0-00001-of-00002.gguf';
const SHARD_2 = '/tmp/pmcap/models/qwen3-0.6b-Q8_0-00002-of-00002.gguf';
const DELETED = '/tmp/pmcap/models/old-Q4_K_M.gguf';

describe('parseVmRssBytes', () => {
  it('reads VmRSS of a real status text, in bytes', () => {
    expect(parseVmRssBytes(statusText)).toBe(15072 * KIB);
  });

  it('is null for a zombie, whose status has no memory lines', () => {
    expect(parseVmRssBytes(zombieStatusText)).toBeNull();
    expect(parseVmRssBytes('')).toBeNull();
  });
});

describe('modelMappingBytes', () => {
  it('sums the mapped size and the resident part of every mapping of the given files', () => {
    expect(modelMappingBytes(smapsText, [SHARD_1, SHARD_2])).toEqual({
      sizeBytes: (4884 + 2932) * KIB,
      rssBytes: 1024 * KIB,
      mappings: 2,
    });
    expect(modelMappingBytes(smapsText, [SHARD_2])).toEqual({ sizeBytes: 2932 * KIB, rssBytes: 0, mappings: 1 });
  });

  it('counts a file deleted since it was mapped under its old path', () => {
    expect(modelMappingBytes(smapsText, [DELETED])).toEqual({ sizeBytes: 296 * KIB, rssBytes: 296 * KIB, mappings: 1 });
  });

  it('matches whole paths only, never the executable, anonymous memory or a folder', () => {
    const none = { sizeBytes: 0, rssBytes: 0, mappings: 0 };
    expect(modelMappingBytes(smapsText, [])).toEqual(none);
    expect(modelMappingBytes(smapsText, ['/tmp/pmcap/models', '/tmp/pmcap/models/other.gguf'])).toEqual(none);
    expect(modelMappingBytes(smapsText, [`${SHARD_1}.part`, SHARD_1.slice(0, -1)])).toEqual(none);
    expect(modelMappingBytes(smapsText, ['', '[heap]', '[stack]'])).toEqual(none);
  });
});

describe('processMemoryBytes', () => {
  it('is VmRSS with each model mapping counted at its whole size instead of its resident part', () => {
    expect(processMemoryBytes(statusText, smapsText, [SHARD_1, SHARD_2])).toBe((15072 - 1024 + 4884 + 2932) * KIB);
    expect(processMemoryBytes(statusText, smapsText, [])).toBe(15072 * KIB);
  });

  it('is null without VmRSS', () => {
    expect(processMemoryBytes(zombieStatusText, '', [SHARD_1])).toBeNull();
  });
});

describe('ProcfsProcessMemory (real processes)', () => {
  let sut: ProcfsProcessMemory;
  let dir: string;
  const children: ChildProcess[] = [];

  /** Starts `command`, resolving once it prints `ready`. */
  const start = (command: string, args: string[]): Promise<ChildProcess> =>
    new Promise((resolveStart, reject) => {
      const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      let out = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (c: string) => {
        out += c;
        if (out.includes('ready')) resolveStart(child);
      });
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`${command} exited with ${code} before it was ready`)));
    });

  beforeEach(() => {
    sut = new ProcfsProcessMemory();
    dir = mkdtempSync(join(tmpdir(), 'process-memory-spec-'));
  });
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  describe('residentBytes', () => {
    it("counts what a process has allocated and written, as its status's VmRSS", async () => {
      const child = await start(process.execPath, [
        '-e',
        'globalThis.held = Buffer.alloc(64 * 1024 * 1024, 1); console.log("ready"); setInterval(() => {}, 1 << 30);',
      ]);
      const used = await sut.residentBytes(child.pid!, []);
      expect(used).toBeGreaterThanOrEqual(64 * MIB);
      const vmRss = parseVmRssBytes(readFileSync(`/proc/${child.pid}/status`, 'utf8'))!;
      expect(Math.abs(used! - vmRss)).toBeLessThan(4 * MIB);
    });

    // Node cannot mmap a file; python3 maps it as llama.cpp maps a model (read-only, shared).
    // .ci/run installs python3 where the machine lacks it.
    it('counts a mapped model file at its whole size however little of it is resident, found through a symlink', async () => {
      const model = join(dir, 'model-Q4_K_M.gguf');
      writeFileSync(model, Buffer.alloc(32 * MIB, 7));
      const link = join(dir, 'current.gguf');
      symlinkSync(model, link);
      const child = await start('python3', [
        '-c',
        [
          'import mmap, sys, time',
          `f = open(${JSON.stringify(model)}, "rb")`,
          'm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)',
          'sum(m[i] for i in range(0, 4 * 1024 * 1024, 4096))',
          'print("ready", flush=True)',
          'time.sleep(60)',
        ].join('\n'),
      ]);
      const without = (await sut.residentBytes(child.pid!, []))!;
      const withModel = (await sut.residentBytes(child.pid!, [link]))!;
      expect(withModel).toBeGreaterThanOrEqual(32 * MIB);
      // 32 MiB mapped, 4 MiB of it touched (plus the kernel's fault-around).
      expect(Math.abs(withModel - without - 28 * MIB)).toBeLessThan(1 * MIB);
      expect(await sut.residentBytes(child.pid!, [join(dir, 'other.gguf')])).toBeLessThan(withModel);
    });

    it('is null once the process is gone', async () => {
      const child = spawn(process.execPath, ['-e', '']);
      await new Promise((r) => child.on('exit', r));
      expect(await sut.residentBytes(child.pid!, [])).toBeNull();
      expect(await sut.residentBytes(child.pid!, [join(dir, 'model.gguf')])).toBeNull();
    });

    it('is null where there is no procfs to read', async () => {
      sut.procRoot = dir;
      expect(await sut.residentBytes(process.pid, [])).toBeNull();
      expect(await new ProcfsProcessMemory().residentBytes(process.pid, [])).toBeGreaterThan(0);
    });
  });
});
