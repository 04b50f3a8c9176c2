import { startOllamaFixture } from '../fixtures/ollama-fixture';
import { waitFor } from '../support/fixtures';
import { FleetApp, startFleetApp } from './fleet.helpers';

/** Value of one sample line of the Prometheus text, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const inner = /\{(.*)\}/.exec(line)?.[1] ?? '';
    const have = Object.fromEntries([...inner.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(line.split(' ').pop());
  }
  return undefined;
}

describe('GET /metrics', () => {
  let f: FleetApp;
  let ollama: Awaited<ReturnType<typeof startOllamaFixture>>;

  beforeAll(async () => {
    ollama = await startOllamaFixture();
    f = await startFleetApp({
      models: ['alpha', 'bravo'],
      env: { OLLAMA_BASE_URL: ollama.url, API_TOKENS: 'metrics-test-token' },
    });
    await waitFor(async () => (await fetch(`${f.url}/health/ready`)).status === 200, 30_000);
  }, 60_000);
  afterAll(async () => {
    await f?.close();
    await ollama?.close();
  });

  it('is open without a token and speaks the Prometheus text format', async () => {
    const res = await fetch(`${f.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toContain('# TYPE magi_http_request_duration_seconds histogram');
  });

  it('reports fleet state, readiness and restarts per model', async () => {
    const text = await (await fetch(`${f.url}/metrics`)).text();
    expect(sample(text, 'magi_fleet_servers', { state: 'ready' })).toBe(2);
    expect(sample(text, 'magi_fleet_servers', { state: 'failed' })).toBe(0);
    expect(sample(text, 'magi_fleet_ready_servers')).toBe(2);
    for (const id of f.ids) {
      expect(sample(text, 'magi_fleet_server_ready', { model_id: id })).toBe(1);
      expect(sample(text, 'magi_fleet_server_restarts', { model_id: id })).toBe(0);
    }
  });

  it('reports provider health and the registry', async () => {
    const text = await (await fetch(`${f.url}/metrics`)).text();
    expect(sample(text, 'magi_provider_up', { provider: 'ollama' })).toBe(1);
    expect(sample(text, 'magi_provider_up', { provider: 'lmstudio' })).toBe(0);
    expect(sample(text, 'magi_provider_check_latency_seconds', { provider: 'ollama' })).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'magi_registry_models')).toBe(2);
    expect(sample(text, 'magi_registry_scan_duration_seconds_count')).toBeGreaterThanOrEqual(1);
  });

  it('labels requests by route template, so raw URLs never become labels', async () => {
    const auth = { authorization: 'Bearer metrics-test-token' };
    for (let i = 0; i < 20; i++) await fetch(`${f.url}/api/models/registry/unknown_${i}`, { headers: auth });
    await fetch(`${f.url}/api/does-not-exist-${Date.now()}`, { headers: auth });
    const text = await (await fetch(`${f.url}/metrics`)).text();
    expect(
      sample(text, 'magi_http_request_duration_seconds_count', {
        route: '/api/models/registry/:modelId',
        status: '404',
        method: 'GET',
      }),
    ).toBe(20);
    expect(text).not.toContain('unknown_1');
    expect(text).not.toContain('does-not-exist');
  });
});
