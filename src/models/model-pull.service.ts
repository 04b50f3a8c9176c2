import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Readable } from 'node:stream';
import { AppError, ProviderUnavailableError, ValidationFailedError } from '../common/errors/app-error';
import { toAppError } from '../common/errors/error-writer';
import { HttpClient, HttpError } from '../common/io/http-client';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { NO_PROVIDERS_AVAILABLE, ProviderStatusService, upstreamMessage } from '../providers';
import { UnsupportedProviderError, UpstreamError } from './models.error';
import { NdjsonLineError, ndjsonValues } from './ndjson';

/** One progress step of a pull, as Ollama reports it (`percent` 0–100 once `total` is known). */
export interface PullProgress {
  status: string;
  digest: string | null;
  total: number | null;
  completed: number | null;
  percent: number | null;
}

export interface PullResult {
  status: 'success';
  model: string;
  message: string;
}

/** One server-sent event of a streamed pull: unnamed progress, then `done` or `error`. */
export interface PullEvent {
  event?: 'done' | 'error';
  data: PullProgress | { status: 'success'; model: string } | { error: string; message: string };
}

/** Ollama model names: `[namespace/]name[:tag]`, optionally with a registry host. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]{0,254}$/;

/** How long Ollama may take to start answering a pull (it answers with its first step at once). */
const PULL_HEAD_TIMEOUT_MS = 30_000;

/**
 * Pulls a model through Ollama's `POST /api/pull`, always as its NDJSON stream so that an
 * error line after the 200 is seen: a plain request waits for the end, a streamed one turns
 * each line into an event. Closing the request (client gone) aborts the upstream request.
 */
@Injectable()
export class ModelPullService {
  private readonly logger = new Logger(ModelPullService.name);
  private readonly url: string;
  private readonly baseUrl: string;

  constructor(
    private readonly http: HttpClient,
    private readonly providers: ProviderStatusService,
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    this.url = config.providers.ollama.baseUrl.replace(/\/+$/, '');
    this.baseUrl = http.redact(this.url);
  }

  /**
   * Checks a pull may be tried before anything is streamed: a valid model name and Ollama
   * as the active provider (400 UnsupportedProvider otherwise; 503 when `auto` found none).
   */
  async prepare(modelName: string): Promise<string> {
    if (!MODEL_NAME.test(modelName) || modelName.includes('..') || modelName.includes('//')) {
      throw new ValidationFailedError(`Invalid model name: ${modelName}`, {
        fields: { modelName: ['must be an Ollama model name such as library/llama3.2:1b'] },
      });
    }
    if (this.providers.configured === 'ollama') return modelName;
    if (this.providers.configured !== 'auto')
      throw new UnsupportedProviderError(this.providers.configured, 'Pulling models', ['ollama']);
    const active = await this.providers.active();
    if (!active.name) throw new ProviderUnavailableError('auto', NO_PROVIDERS_AVAILABLE);
    if (active.name !== 'ollama') throw new UnsupportedProviderError(active.name, 'Pulling models', ['ollama']);
    return modelName;
  }

  /** Pulls and waits for the end: success, or the error Ollama reported (also mid-stream). */
  async pull(model: string, signal: AbortSignal): Promise<PullResult> {
    for await (const step of this.progress(model, signal)) void step;
    return { status: 'success', model, message: `Model ${model} pulled` };
  }

  /** The pull as events: each progress step, then exactly one `done` or `error` (none once the client left). */
  async *events(model: string, signal: AbortSignal): AsyncGenerator<PullEvent> {
    try {
      for await (const step of this.progress(model, signal)) yield { data: step };
      yield { event: 'done', data: { status: 'success', model } };
    } catch (e) {
      if (signal.aborted) return;
      const err = toAppError(e);
      yield { event: 'error', data: { error: err.type, message: err.message } };
    }
  }

  private async *progress(model: string, signal: AbortSignal): AsyncGenerator<PullProgress> {
    const what = `POST ${this.baseUrl}/api/pull`;
    this.logger.log({ model, provider: 'ollama' }, 'Pull started');
    let body: Readable | undefined;
    try {
      const res = await this.http
        .stream({
          method: 'POST',
          url: `${this.url}/api/pull`,
          body: { model, stream: true },
          signal,
          timeoutMs: PULL_HEAD_TIMEOUT_MS,
        })
        .catch((e: unknown) => {
          throw new ProviderUnavailableError('ollama', e instanceof HttpError ? e.message : String(e));
        });
      body = res.body;
      if (res.status !== 200) {
        const text = this.http.redact(await readSome(res.body));
        const json = safeJson(text);
        const reason = upstreamMessage({ json, text }) || `HTTP ${res.status}`;
        throw new UpstreamError(`Ollama failed to pull ${model}: ${reason}`, {
          provider: 'ollama',
          model,
          upstreamStatus: res.status,
        });
      }
      let succeeded = false;
      for await (const line of ndjsonValues(res.body)) {
        const step = line as Record<string, unknown>;
        if (typeof step?.error === 'string') {
          throw new UpstreamError(`Ollama failed to pull ${model}: ${this.http.redact(step.error)}`, {
            provider: 'ollama',
            model,
          });
        }
        if (step?.status === 'success') {
          succeeded = true;
          continue;
        }
        yield toProgress(step);
      }
      if (!succeeded)
        throw new UpstreamError(`Ollama ended the pull of ${model} without success`, { provider: 'ollama', model });
      this.logger.log({ model, provider: 'ollama' }, 'Pull finished');
    } catch (e) {
      const err = this.describe(e, model, what);
      if (signal.aborted) this.logger.log({ model, provider: 'ollama' }, 'Pull cancelled: the client went away');
      else this.logger.warn({ model, provider: 'ollama', error: err.message }, 'Pull failed');
      throw err;
    } finally {
      body?.destroy();
    }
  }

  private describe(e: unknown, model: string, what: string): AppError {
    if (e instanceof AppError) return e;
    if (e instanceof NdjsonLineError)
      return new UpstreamError(`Ollama sent ${this.http.redact(e.message)} (${what})`, { provider: 'ollama', model });
    if (e instanceof HttpError)
      return new UpstreamError(`Ollama's pull stream broke: ${e.message}`, { provider: 'ollama', model });
    return new UpstreamError(`Ollama's pull stream broke: ${this.http.redact(String((e as Error)?.message ?? e))}`, {
      provider: 'ollama',
      model,
    });
  }
}

function toProgress(step: Record<string, unknown>): PullProgress {
  const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const total = num(step.total);
  const completed = num(step.completed);
  const percent =
    total && total > 0 ? Math.min(100, Math.max(0, Math.round(((completed ?? 0) / total) * 1000) / 10)) : null;
  return {
    status: typeof step.status === 'string' ? step.status : '',
    digest: typeof step.digest === 'string' ? step.digest : null,
    total,
    completed,
    percent,
  };
}

async function readSome(stream: Readable, limit = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(String(c));
    chunks.push(b);
    size += b.length;
    if (size >= limit) break;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, limit);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
