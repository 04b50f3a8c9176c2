/**
 * Shared by the downloads e2e specs: a profile with known memory settings, job polling, an
 * SSE reader (fetch + eventsource-parser, as a browser's EventSource reads) and the local
 * memory estimate the remote one must equal.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import { parseGgufHeader } from '../../src/registry/gguf/gguf-reader';
import { estimateMemory, MEMORY_PARSE_OPTIONS, MemorySettings, modelMemoryFacts } from '../../src/registry/memory';
import type { FileContent } from '../fixtures/hub-fixture';
import { httpRequest, waitFor } from '../support/fixtures';
import type { TestDirs } from '../support/create-test-app';

/** The active profile of these specs: no model enabled (no fleet), and memory settings the estimate uses. */
export const PROFILE_KEY = 'downloads';
export const PROFILE_SERVER = { ctxSize: 8192, parallel: 1, extraArgs: ['--cache-type-k', 'q8_0', '-ctv', 'q8_0'] };
export const PROFILE_SETTINGS: MemorySettings = { ctxSize: 8192, parallel: 1, cacheTypeK: 'q8_0', cacheTypeV: 'q8_0' };

export function writeProfile(dirs: TestDirs): void {
  writeFileSync(
    join(dirs.profiles, `${PROFILE_KEY}.yaml`),
    [
      'name: Downloads',
      'enabledModels: []',
      'server:',
      `  ctxSize: ${PROFILE_SERVER.ctxSize}`,
      `  parallel: ${PROFILE_SERVER.parallel}`,
      `  extraArgs: [${PROFILE_SERVER.extraArgs.map((a) => JSON.stringify(a)).join(', ')}]`,
      '',
    ].join('\n'),
  );
}

/** The memory estimate of files parsed locally (from the same bytes the hub serves). */
export async function localEstimate(contents: FileContent[], settings = PROFILE_SETTINGS) {
  const headers = [];
  for (const c of contents) {
    headers.push(
      await parseGgufHeader(
        { size: c.size, read: (p, l) => Promise.resolve(c.slice(p, Math.min(c.size, p + l))) },
        MEMORY_PARSE_OPTIONS,
      ),
    );
  }
  return { estimate: estimateMemory(modelMemoryFacts(headers, null), settings), headerBytes: headers[0].headerBytes };
}

export interface Job {
  id: string;
  state: string;
  receivedBytes: number;
  totalBytes: number;
  bytesPerSecond: number;
  error: { error: string; message: string; details: Record<string, unknown> } | null;
  modelIds: string[];
  files: Array<{ path: string; sizeBytes: number; sha256: string; receivedBytes: number }>;
  destination: string;
}

export async function getJob(base: string, id: string): Promise<Job> {
  const r = await httpRequest(`${base}/api/models/downloads/${id}`);
  if (r.status !== 200) throw new Error(`GET job ${id}: ${r.status} ${r.body}`);
  return r.json<Job>();
}

/** Polls the job until `until` holds. */
export async function waitForJob(base: string, id: string, until: (j: Job) => boolean, timeoutMs = 60_000) {
  let last: Job | null = null;
  await waitFor(
    async () => {
      last = await getJob(base, id);
      return until(last);
    },
    timeoutMs,
    25,
    `download ${id}`,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; last state: ${JSON.stringify(last)}`);
  });
  return last!;
}

export function post(base: string, body: unknown) {
  return httpRequest(`${base}/api/models/downloads`, { method: 'POST', body, timeoutMs: 30_000 });
}

export interface SseResult {
  status: number;
  contentType: string | null;
  events: Array<EventSourceMessage & { at: number }>;
}

/** Reads a job's SSE stream until the server ends it. */
export async function readJobEvents(base: string, id: string, signal?: AbortSignal): Promise<SseResult> {
  const res = await fetch(`${base}/api/models/downloads/${id}`, {
    headers: { Accept: 'text/event-stream' },
    signal,
  });
  const events: SseResult['events'] = [];
  const parser = createParser({ onEvent: (e) => events.push({ ...e, at: Date.now() }) });
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    parser.feed(decoder.decode(chunk, { stream: true }));
  }
  return { status: res.status, contentType: res.headers.get('content-type'), events };
}

/**
 * A request whose path goes out byte for byte: a URL string would be normalised on the way
 * (WHATWG URL resolves `..` and `%2e%2e` segments before anything is sent).
 */
export function rawRequest(
  base: string,
  path: string,
  opts: { method?: string; body?: unknown } = {},
): Promise<{ status: number; body: string; json<T = any>(): T }> {
  const { hostname, port } = new URL(base);
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: hostname,
        port,
        path,
        method: opts.method ?? 'GET',
        agent: false,
        headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body, json: () => JSON.parse(body) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
