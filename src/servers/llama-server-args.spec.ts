import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildLlamaServerArgs, parseHelpFlags } from './llama-server-args';

const REAL_HELP = readFileSync(resolve(__dirname, '..', '..', 'test', 'fixtures', 'llama-server-help.txt'), 'utf8');
const base = { modelPath: '/m/a.gguf', host: '127.0.0.1', port: 8081, alias: 'a_1b_q4km' };

describe('parseHelpFlags', () => {
  const sut = parseHelpFlags(REAL_HELP);

  it('lists every spelling of the flags of the real --help, with their arity', () => {
    for (const f of [
      '-m',
      '--model',
      '--host',
      '--port',
      '-a',
      '--alias',
      '-c',
      '--ctx-size',
      '-ngl',
      '--n-gpu-layers',
      '--gpu-layers',
      '-np',
      '--parallel',
      '-mm',
      '--mmproj',
      '--embeddings',
      '--embedding',
      '--metrics',
    ]) {
      expect(sut.names.has(f)).toBe(true);
    }
    expect(sut.arity.get('--ctx-size')).toBe(1);
    expect(sut.arity.get('--metrics')).toBe(0);
    expect(sut.arity.get('--flash-attn')).toBe(1);
    expect(sut.names.has('--definitely-not-a-flag')).toBe(false);
  });

  it('finds nothing in text that is not a help page', () => {
    expect(parseHelpFlags('Usage: something else\n  nothing here').names.size).toBe(0);
  });
});

describe('buildLlamaServerArgs', () => {
  const flags = parseHelpFlags(REAL_HELP);

  it('passes --model --host --port --alias first', () => {
    expect(buildLlamaServerArgs({ ...base, flags })).toEqual({
      args: ['--model', '/m/a.gguf', '--host', '127.0.0.1', '--port', '8081', '--alias', 'a_1b_q4km'],
      warnings: [],
    });
  });

  it('adds the profile settings, --embeddings, --mmproj and extraArgs in that order', () => {
    const r = buildLlamaServerArgs({
      ...base,
      flags,
      mmprojPath: '/m/mmproj.gguf',
      settings: {
        ctxSize: 4096,
        gpuLayers: 'all',
        parallel: 2,
        embeddings: true,
        extraArgs: ['--flash-attn', 'on', '--metrics'],
      },
    });
    expect(r.args.slice(8)).toEqual([
      '--ctx-size',
      '4096',
      '--n-gpu-layers',
      'all',
      '--parallel',
      '2',
      '--embeddings',
      '--mmproj',
      '/m/mmproj.gguf',
      '--flash-attn',
      'on',
      '--metrics',
    ]);
    expect(r.warnings).toEqual([]);
  });

  it('leaves out embeddings: false and absent settings', () => {
    const r = buildLlamaServerArgs({ ...base, flags, settings: { embeddings: false, gpuLayers: 0 } });
    expect(r.args.slice(8)).toEqual(['--n-gpu-layers', '0']);
  });

  it('uses another spelling when the build only lists that one', () => {
    const old = parseHelpFlags(
      [
        '-m,    --model FNAME   model',
        '--host HOST  host',
        '--port PORT  port',
        '-a,    --alias STRING  alias',
        '-ngl,  --gpu-layers N   layers',
        '--embedding   embeddings only',
      ].join('\n'),
    );
    const r = buildLlamaServerArgs({ ...base, flags: old, settings: { gpuLayers: 10, embeddings: true } });
    expect(r.args.slice(8)).toEqual(['--gpu-layers', '10', '--embedding']);
  });

  it('leaves out a setting whose flag the build lacks, with a warning', () => {
    const noCtx = parseHelpFlags(
      REAL_HELP.split('\n')
        .filter((l) => !l.startsWith('-c,'))
        .join('\n'),
    );
    const r = buildLlamaServerArgs({ ...base, flags: noCtx, settings: { ctxSize: 2048, parallel: 1 } });
    expect(r.args).not.toContain('--ctx-size');
    expect(r.args.slice(8)).toEqual(['--parallel', '1']);
    expect(r.warnings).toEqual(['server.ctxSize=2048 ignored: this llama-server build has no --ctx-size flag']);
  });

  it('drops an unknown extraArgs flag with its values and keeps the known ones', () => {
    const r = buildLlamaServerArgs({
      ...base,
      flags,
      settings: { extraArgs: ['--no-such', 'x', 'y', '--metrics', '--threads', '-1', '--bogus=3'] },
    });
    expect(r.args.slice(8)).toEqual(['--metrics', '--threads', '-1']);
    expect(r.warnings).toEqual([
      'server.extraArgs "--no-such x y" ignored: this llama-server build has no --no-such flag',
      'server.extraArgs "--bogus=3" ignored: this llama-server build has no --bogus flag',
    ]);
  });

  it('passes everything as is when the help could not be read', () => {
    const r = buildLlamaServerArgs({ ...base, flags: null, settings: { ctxSize: 1, extraArgs: ['--whatever', '1'] } });
    expect(r.args.slice(8)).toEqual(['--ctx-size', '1', '--whatever', '1']);
    expect(r.warnings).toEqual([]);
  });
});
