/**
 * Helpers of the on-demand scheduling e2e specs (API.md §9): memory estimates read back from
 * the registry, Prometheus samples, and gateway requests that can be held open (a slow
 * stream keeps a request in flight) or dropped by the client (a disconnect cancels a load).
 */
import * as http from 'node:http';
import { httpRequest, HttpResult, waitFor } from '../support/fixtures';
import { FleetApp, ServersBody, serverOf } from './fleet.helpers';

export const MiB = 1024 * 1024;

/** Each model's `memoryEstimate.totalBytes` as the registry answers it (null when it cannot tell). */
export async function estimates(app: FleetApp): Promise<Record<string, number>> {
  const { models } = (await app.get('/api/models/registry')).body as {
    models: Record<string, { memoryEstimate: { totalBytes: number } | null }>;
  };
  const out: Record<string, number> = {};
  for (const [id, m] of Object.entries(models)) out[id] = m.memoryEstimate?.totalBytes ?? 0;
  return out;
}

/** Sum of a Prometheus series' samples whose labels include all of `labels` (0 when absent). */
export async function metric(app: FleetApp, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = (await httpRequest(`${app.url}/metrics`)).body;
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.split(' ').pop());
  }
  return sum;
}

/** True when the /metrics text has a sample of `name` at all. */
export async function hasMetric(app: FleetApp, name: string): Promise<boolean> {
  const text = (await httpRequest(`${app.url}/metrics`)).body;
  return text.split('\n').some((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

export const chatBody = (model: string, extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: 'user', content: 'Say hello.' }],
  max_tokens: 1,
  ...extra,
});

/** POST /v1/chat/completions; resolves with the whole answer. */
export function chat(app: FleetApp, model: string, extra: Record<string, unknown> = {}): Promise<HttpResult> {
  return httpRequest(`${app.url}/v1/chat/completions`, {
    method: 'POST',
    body: chatBody(model, extra),
    timeoutMs: 60_000,
  });
}

/** A gateway request the test can drop (the client disconnects) or wait out. */
export interface OpenRequest {
  /** The whole answer; rejects when the connection fails (or was dropped by abort()). */
  answer: Promise<HttpResult & { at: number }>;
  /** Resolves with the status once the answer's head arrives. */
  head: Promise<number>;
  /** The client goes away: the socket is destroyed. */
  abort(): void;
}

export function openChat(app: FleetApp, model: string, extra: Record<string, unknown> = {}): OpenRequest {
  const payload = JSON.stringify(chatBody(model, extra));
  let onHead!: (status: number) => void;
  const head = new Promise<number>((r) => (onHead = r));
  let req!: http.ClientRequest;
  const answer = new Promise<HttpResult & { at: number }>((resolve, reject) => {
    req = http.request(
      `${app.url}/v1/chat/completions`,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) },
      },
      (res) => {
        onHead(res.statusCode ?? 0);
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: () => JSON.parse(body),
            at: Date.now(),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
  // A dropped request's rejection is expected; callers that await it still see it.
  answer.catch(() => undefined);
  return { answer, head, abort: () => req.destroy() };
}

/** `data:` payloads of an SSE body, `[DONE]` included. */
export function sseData(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => l.slice(6));
}

/** Polls the servers answer until `modelId` is in one of `states`; returns its entry and the body. */
export async function waitForState(
  app: FleetApp,
  modelId: string,
  states: string | string[],
  timeoutMs = 15_000,
): Promise<{ server: any; body: ServersBody }> {
  const wanted = [states].flat();
  return waitFor(
    async () => {
      const body = (await app.get<ServersBody>('/api/models/servers')).body;
      const server = serverOf(body, modelId);
      return server && wanted.includes(server.state) ? { server, body } : null;
    },
    timeoutMs,
    25,
    `${modelId} ${wanted.join('|')}`,
  );
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
