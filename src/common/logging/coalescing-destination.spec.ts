import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import pino from 'pino';
import { CoalescingDestination } from './coalescing-destination';

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('CoalescingDestination', () => {
  /** Records each write the destination makes (the I/O boundary: fd 1 in production). */
  function recorder() {
    const writes: string[] = [];
    const out = { write: (s: string) => writes.push(s) } as unknown as ReturnType<typeof pino.destination>;
    return { writes, dest: new CoalescingDestination(out) };
  }

  it('writes the lines of one event-loop turn in one write, in order, at the end of the turn', async () => {
    const { writes, dest } = recorder();
    const log = pino({ base: null, timestamp: false }, dest);
    log.info('one');
    log.info('two');
    log.warn('three');
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toHaveLength(1);
    expect(
      writes[0]
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).msg),
    ).toEqual(['one', 'two', 'three']);
  });

  it('writes a line logged in a later turn with its own write', async () => {
    const { writes, dest } = recorder();
    dest.write('a\n');
    await nextTurn();
    dest.write('b\n');
    await nextTurn();
    expect(writes).toEqual(['a\n', 'b\n']);
  });

  it('writes pending lines when the process exits before the turn ends', () => {
    const module = resolve(__dirname, 'coalescing-destination.ts');
    const script = `const pino = require('pino'); const { stdoutDestination } = require(${JSON.stringify(module)});
      const log = pino({ base: null, timestamp: false }, stdoutDestination());
      log.info('before exit'); log.error('last words'); process.exit(3);`;
    let stdout = '';
    try {
      execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
        cwd: resolve(__dirname, '../../..'),
        encoding: 'utf8',
      });
    } catch (e) {
      const err = e as { status: number; stdout: string };
      expect(err.status).toBe(3);
      stdout = err.stdout;
    }
    expect(
      stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).msg),
    ).toEqual(['before exit', 'last words']);
  });
});
