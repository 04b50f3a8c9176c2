import { Logger } from '@nestjs/common';
import { SystemClock } from '../common/io/clock';
import { LlmProviderName, MagiConfig } from '../config/magi-config';
import { LlmProvider, ProviderHealth, ProviderModel, connected, notConnected } from './llm-provider';
import { ProviderStatusService } from './provider-status.service';

/**
 * A hand-written provider for the faults real upstreams cannot produce on demand: one that
 * ignores its abort signal, one whose check throws. The fixture-backed behaviour is in
 * test/e2e/providers.e2e-spec.ts.
 */
class FakeProvider implements LlmProvider {
  readonly baseUrl: string;
  calls = 0;
  signals: AbortSignal[] = [];
  constructor(
    readonly id: LlmProviderName,
    private readonly behaviour: 'up' | 'down' | 'ignores-signal' | 'throws',
    private readonly delayMs = 0,
  ) {
    this.baseUrl = `http://${id}.test`;
  }

  async checkHealth(signal: AbortSignal): Promise<ProviderHealth> {
    this.calls++;
    this.signals.push(signal);
    if (this.behaviour === 'throws') throw new Error('boom');
    if (this.behaviour === 'ignores-signal') await new Promise((r) => setTimeout(r, 5000).unref());
    else if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    return this.behaviour === 'down'
      ? notConnected(this.id, this.baseUrl, 'down', 1)
      : connected(this.id, this.baseUrl, `${this.id}-model`, 1);
  }

  async listModels(): Promise<ProviderModel[]> {
    return [];
  }
}

function make(
  choice: string,
  fakes: FakeProvider[],
  opts: { timeoutMs?: number; cacheMs?: number; openAiKey?: string | null } = {},
) {
  const config = {
    providers: {
      llmProvider: choice,
      timeoutMs: opts.timeoutMs ?? 200,
      cacheMs: opts.cacheMs ?? 0,
      openai: { apiKey: opts.openAiKey ?? null },
    },
  } as unknown as MagiConfig;
  return new ProviderStatusService(fakes, config, new SystemClock());
}

beforeAll(() => Logger.overrideLogger(false));

describe('ProviderStatusService.status', () => {
  it('settles at the timeout even when a provider ignores its signal, and aborts that signal', async () => {
    const slow = new FakeProvider('ollama', 'ignores-signal');
    const sut = make('ollama', [
      new FakeProvider('openai', 'up'),
      new FakeProvider('lmstudio', 'up'),
      slow,
      new FakeProvider('llamacpp', 'up'),
    ]);
    const started = Date.now();
    const h = await sut.status('ollama');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(h).toMatchObject({
      name: 'ollama',
      connected: false,
      error: 'health check timed out after 200 ms',
      latencyMs: 200,
    });
    expect(slow.signals[0].aborted).toBe(true);
  });

  it('turns a check that throws into not connected with its message', async () => {
    const sut = make('auto', [
      new FakeProvider('openai', 'up'),
      new FakeProvider('lmstudio', 'throws'),
      new FakeProvider('ollama', 'up'),
      new FakeProvider('llamacpp', 'up'),
    ]);
    expect(await sut.status('lmstudio')).toMatchObject({
      connected: false,
      error: 'boom',
      baseUrl: 'http://lmstudio.test',
    });
  });

  it('shares one in-flight check among concurrent callers and caches for cacheMs', async () => {
    const o = new FakeProvider('ollama', 'up', 50);
    const sut = make(
      'ollama',
      [new FakeProvider('openai', 'up'), new FakeProvider('lmstudio', 'up'), o, new FakeProvider('llamacpp', 'up')],
      { cacheMs: 300 },
    );
    await Promise.all(Array.from({ length: 10 }, () => sut.status('ollama')));
    expect(o.calls).toBe(1);
    await sut.status('ollama');
    expect(o.calls).toBe(1);
    await new Promise((r) => setTimeout(r, 350));
    await sut.status('ollama');
    expect(o.calls).toBe(2);
  });
});

describe('ProviderStatusService.active', () => {
  const four = (b: Record<string, 'up' | 'down'>) =>
    (['openai', 'lmstudio', 'ollama', 'llamacpp'] as const).map((n) => new FakeProvider(n, b[n] ?? 'down'));

  it('tries OpenAI first only when a key is set', async () => {
    expect((await make('auto', four({ openai: 'up', ollama: 'up' }), { openAiKey: 'k' }).active()).name).toBe('openai');
    const noKey = four({ openai: 'up', ollama: 'up' });
    const sut = make('auto', noKey);
    expect(sut.autoOrder()).toEqual(['lmstudio', 'ollama', 'llamacpp']);
    expect((await sut.active()).name).toBe('ollama');
    expect(noKey[0].calls).toBe(0);
  });

  it('reports none when nothing is connected, with every checked provider', async () => {
    const a = await make('auto', four({}), { openAiKey: 'k' }).active();
    expect(a).toMatchObject({ choice: 'auto', name: null, health: null });
    expect(a.checked.map((c) => c.name)).toEqual(['openai', 'lmstudio', 'ollama', 'llamacpp']);
  });

  it('checks only the configured provider otherwise', async () => {
    const fakes = four({ lmstudio: 'up' });
    const a = await make('llamacpp', fakes).active();
    expect(a).toMatchObject({ choice: 'llamacpp', name: 'llamacpp', health: { connected: false } });
    expect(fakes.map((f) => f.calls)).toEqual([0, 0, 0, 1]);
  });
});
