import { Logger } from '@nestjs/common';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort, httpRequest } from '../../test/support/fixtures';
import { loadMagiConfig } from '../config/load-config';
import { MetricsService } from '../metrics/metrics.service';
import { Forwarder } from './forwarder';
import { GatewayMetrics } from './gateway-metrics';
import { UpstreamUnavailableError } from './gateway.errors';
import { readRequestBody } from './request-body';
import { RequestRecord, newRequestRecord } from './request-record';
import type { Upstream } from './route';
import type { FleetRoute } from './route-table';
import { FleetUsage } from '../servers/fleet-usage';
import { Sender } from './sender';

/** An upstream on loopback answering `{port, request: {headers, body}}`. */
async function upstream(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ port: (server.address() as AddressInfo).port, headers: req.headers, body }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('Sender', () => {
  const metrics = new MetricsService();
  const forwarder = new Forwarder();
  let a: Awaited<ReturnType<typeof upstream>>;
  let b: Awaited<ReturnType<typeof upstream>>;
  let front: http.Server;
  let frontUrl: string;
  /** What the front server does with each request it gets (the test sets it). */
  let handle: (raw: Buffer, res: http.ServerResponse) => Promise<void>;

  beforeAll(async () => {
    // The retries log a warning each; the app's logger is not there to silence them.
    Logger.overrideLogger(false);
    [a, b] = [await upstream(), await upstream()];
    front = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        handle(Buffer.concat(chunks), res).catch((e: Error) => {
          res.statusCode = e instanceof UpstreamUnavailableError ? e.status : 500;
          res.end(e.message);
        });
      });
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    await forwarder.onModuleDestroy();
    await Promise.all([a.close(), b.close()]);
    await new Promise<void>((r) => front.close(() => r()));
  });

  const up = (modelId: string, port: number): Upstream => ({ modelId, host: '127.0.0.1', port });
  const route = (ready: Upstream[], strategy: FleetRoute['strategy'] = 'round_robin'): FleetRoute => ({
    kind: 'fleet',
    target: { kind: 'tier', tier: 'fast' },
    key: 'tier:fast',
    load: null,
    ready,
    pending: 0,
    strategy,
  });
  const ask = (body: unknown) => httpRequest(frontUrl, { method: 'POST', body: JSON.stringify(body) });

  /** The fleet's side of each request, as the fleet would see it: starts and ends per model. */
  class UsageLog extends FleetUsage {
    readonly events: string[] = [];
    requestStarted(modelId: string): void {
      this.events.push(`start ${modelId}`);
    }
    requestEnded(modelId: string): void {
      this.events.push(`end ${modelId}`);
    }
  }

  describe('toFleet', () => {
    const usage = new UsageLog();
    const sut = new Sender(forwarder, new GatewayMetrics(metrics), usage, loadMagiConfig({}));

    it('takes the ready servers in turn, with the model set to the server’s id and X-Magi headers', async () => {
      const r = route([up('alpha', a.port), up('bravo', b.port)]);
      const records: RequestRecord[] = [];
      handle = (raw, res) => {
        const record = newRequestRecord();
        records.push(record);
        return sut.toFleet('chat', readRequestBody(raw), r, res, record, () => r);
      };
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await ask({ model: 'fast', messages: [] }));
      expect(answers.map((x) => x.json().port)).toEqual([a.port, b.port, a.port, b.port]);
      expect(answers.map((x) => JSON.parse(x.json().body as string).model)).toEqual([
        'alpha',
        'bravo',
        'alpha',
        'bravo',
      ]);
      expect([answers[1].headers['x-magi-model'], answers[1].headers['x-magi-upstream']]).toEqual([
        'bravo',
        String(b.port),
      ]);
      expect(records.map((x) => [x.modelId, x.status, x.retried])).toEqual([
        ['alpha', 200, false],
        ['bravo', 200, false],
        ['alpha', 200, false],
        ['bravo', 200, false],
      ]);
      // The fleet heard of each request as it started and when its answer ended.
      expect(usage.events.slice(-4)).toEqual(['start alpha', 'end alpha', 'start bravo', 'end bravo']);
    });

    it('sends every request to the first ready server when load balancing is off', async () => {
      const r = route([up('alpha', a.port), up('bravo', b.port)], null);
      handle = (raw, res) => sut.toFleet('chat', readRequestBody(raw), r, res, newRequestRecord(), () => r);
      const ports = [];
      for (let i = 0; i < 3; i++) ports.push((await ask({ model: 'fast' })).json().port);
      expect(ports).toEqual([a.port, a.port, a.port]);
    });

    it('routes around a server it cannot connect to, once, and counts the retry', async () => {
      const dead = await freePort();
      const r = route([up('alpha', dead), up('bravo', b.port)], null);
      const record = newRequestRecord();
      handle = (raw, res) => sut.toFleet('chat', readRequestBody(raw), r, res, record, () => r);
      const res = await ask({ model: 'fast' });
      expect([res.status, res.json().port, record.modelId, record.retried]).toEqual([200, b.port, 'bravo', true]);
      const text = (await metrics.render()).body;
      expect(text).toMatch(/magi_gateway_retries_total\{model="alpha"\} 1/);
    });

    it('is 502 upstream_unavailable when no server of the target can be reached, retry included', async () => {
      const [dead1, dead2] = [await freePort(), await freePort()];
      const r = route([up('alpha', dead1), up('bravo', dead2)]);
      let thrown: unknown;
      handle = (raw, res) =>
        sut
          .toFleet('chat', readRequestBody(raw), r, res, newRequestRecord(), () => r)
          .catch((e) => {
            thrown = e;
            throw e;
          });
      expect((await ask({ model: 'fast' })).status).toBe(502);
      expect(thrown).toBeInstanceOf(UpstreamUnavailableError);
      expect((thrown as Error).message).toMatch(/ECONNREFUSED/);
    });

    it('does not try a refused server twice when it is the only one', async () => {
      const dead = await freePort();
      const r = route([up('alpha', dead)]);
      const record = newRequestRecord();
      handle = (raw, res) => sut.toFleet('chat', readRequestBody(raw), r, res, record, () => r);
      expect((await ask({ model: 'fast' })).status).toBe(502);
      expect(record.retried).toBe(false);
    });
  });

  describe('toLiteLlm', () => {
    it('sends the body as received, with LiteLLM’s key instead of the client’s token', async () => {
      const sut = new Sender(
        forwarder,
        new GatewayMetrics(new MetricsService()),
        new UsageLog(),
        loadMagiConfig({ LITELLM_BASE_URL: `http://127.0.0.1:${a.port}/v1`, LITELLM_API_KEY: 'sk-lite' }),
      );
      const record = newRequestRecord();
      handle = (raw, res) => sut.toLiteLlm('chat', readRequestBody(raw), 'gpt-4o', res, record);
      const raw = '{"model":"gpt-4o",  "messages":[]}';
      const res = await httpRequest(frontUrl, { method: 'POST', body: raw });
      const seen = res.json<{ body: string; headers: Record<string, string> }>();
      expect([seen.body, seen.headers.authorization]).toEqual([raw, 'Bearer sk-lite']);
      expect([res.headers['x-magi-model'], res.headers['x-magi-upstream']]).toEqual(['gpt-4o', 'litellm']);
      expect([record.upstream, record.servedAs, record.status]).toEqual(['litellm', 'gpt-4o', 200]);
    });
  });
});
