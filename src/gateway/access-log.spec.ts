import pino from 'pino';
import { AccessLine, AccessLog } from './access-log';

/** A pino root logger writing into `lines`, with the options MAGI's root logger has that matter here. */
function rootLogger(level: string) {
  const lines: string[] = [];
  const root = pino(
    { level, redact: { paths: ['*.token'], censor: '[redacted]' } },
    { write: (s: string) => void lines.push(s) },
  );
  return { lines, child: root.child({ context: 'GatewayService' }, { redact: [] }) };
}

const LINES: Array<[boolean, AccessLine]> = [
  [
    false,
    {
      endpoint: 'chat',
      model: 'gpt-4o-mini',
      modelId: 'qwen3_4b_q4km',
      upstream: 8081,
      status: 200,
      durationMs: 7.3,
      stream: false,
      retried: false,
      error: null,
    },
  ],
  [
    false,
    {
      endpoint: 'completions',
      model: 'x"y\\z\u2028é',
      modelId: null,
      upstream: null,
      status: 404,
      durationMs: 0.4,
      stream: true,
      retried: false,
      error: 'model_not_found',
    },
  ],
  [
    true,
    {
      endpoint: 'chat',
      model: null,
      modelId: 'm',
      upstream: 'litellm',
      status: 502,
      durationMs: 12,
      stream: false,
      retried: true,
      error: 'upstream_unavailable',
    },
  ],
];

describe('AccessLog', () => {
  it("writes the same line pino writes for the same fields, to the logger's destination", () => {
    const { lines, child } = rootLogger('info');
    const log = new AccessLog(child);
    for (const [failed, line] of LINES) {
      log.write(failed, line);
      const { error, ...rest } = line;
      const fields = error ? { ...rest, error } : rest;
      if (failed) child.warn(fields, 'Gateway request failed');
      else child.info(fields, 'Gateway request');
    }
    expect(lines).toHaveLength(LINES.length * 2);
    for (let i = 0; i < lines.length; i += 2) {
      const ours = JSON.parse(lines[i]);
      const pinos = JSON.parse(lines[i + 1]);
      expect(Object.keys(ours)).toEqual(Object.keys(pinos));
      expect({ ...ours, time: 0 }).toEqual({ ...pinos, time: 0 });
      expect(Math.abs(ours.time - pinos.time)).toBeLessThan(1000);
      expect(lines[i].endsWith('}\n')).toBe(true);
    }
  });

  it("follows the logger's level", () => {
    const { lines, child } = rootLogger('warn');
    const log = new AccessLog(child);
    log.write(false, LINES[0][1]);
    expect(lines).toEqual([]);
    log.write(true, LINES[2][1]);
    expect(JSON.parse(lines[0])).toMatchObject({ level: 40, msg: 'Gateway request failed', upstream: 'litellm' });
  });
});
