import { Counter, Histogram, Registry } from 'prom-client';
import { HotCounter, HotHistogram } from './hot-metrics';

/** The same observations through prom-client's own metrics and through ours give the same text. */
describe('hot metrics', () => {
  const buckets = [0.005, 0.01, 0.025, 0.1, 1, 10];
  const values = [0, 0.001, 0.005, 0.0051, 0.01, 0.3, 0.99, 1, 9.999, 10, 10.5, 1e6];

  it('a histogram exposes the same buckets, sum and count as prom-client’s', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const config = {
      name: 'x_seconds',
      help: 'help with "quotes" and \\ backslash',
      labelNames: ['model', 'endpoint'] as const,
      buckets,
    };
    const h = new Histogram({ ...config, labelNames: [...config.labelNames], registers: [theirs] });
    const hot = new HotHistogram(config, ours);
    const labelSets = [
      { model: 'a', endpoint: 'chat' },
      { model: 'b "quoted"\nline\\', endpoint: 'embeddings' },
    ];
    for (const labels of labelSets) {
      const series = hot.series(labels);
      for (const v of values) {
        h.observe(labels, v);
        series.observe(v);
      }
    }
    // Resolving a series again returns the same one.
    hot.series({ model: 'a', endpoint: 'chat' }).observe(2);
    h.observe({ model: 'a', endpoint: 'chat' }, 2);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('x_seconds_bucket{le="1",model="a",endpoint="chat"} 8');
  });

  it('a counter exposes the same samples as prom-client’s', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const config = { name: 'y_total', help: 'requests', labelNames: ['model', 'status'] as const };
    const c = new Counter({ ...config, labelNames: [...config.labelNames], registers: [theirs] });
    const hot = new HotCounter(config, ours);
    c.inc({ model: 'a', status: '200' });
    c.inc({ model: 'a', status: '200' }, 41);
    c.inc({ model: 'b', status: '503' }, 0.5);
    hot.series({ model: 'a', status: '200' }).inc();
    hot.series({ model: 'a', status: '200' }).inc(41);
    hot.series({ model: 'b', status: '503' }).inc(0.5);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('y_total{model="a",status="200"} 42');
  });

  it('refuses a series with a label missing, and reset empties it like prom-client’s', async () => {
    const reg = new Registry();
    const hot = new HotCounter({ name: 'z_total', help: 'z', labelNames: ['model'] }, reg);
    expect(() => hot.series({} as { model: string })).toThrow(/label model missing/);
    hot.series({ model: 'a' }).inc();
    reg.resetMetrics();
    expect(await reg.metrics()).toBe('# HELP z_total z\n# TYPE z_total counter\n');
  });
});
