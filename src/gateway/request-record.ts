import { AppError } from '../common/errors/app-error';
import type { Usage } from './forwarder';
import type { GatewayErrorCode } from './gateway-metrics';
import { QueueTimeoutError, UpstreamUnavailableError } from './gateway.errors';

/** What one gateway request did, filled in as it goes: its metrics and its log line are made from it. */
export interface RequestRecord {
  /** Metrics label before a server is chosen: the model id or `tier:<tier>` routed to, or `litellm`. */
  label: string;
  /** The model id of the server tried last. */
  modelId: string | null;
  /** Its port, or `litellm`. */
  upstream: number | string | null;
  /** The model LiteLLM was asked for (X-Magi-Model of its answers). */
  servedAs: string | null;
  status: number;
  usage: Usage | null;
  error: GatewayErrorCode | null;
  retried: boolean;
}

export function newRequestRecord(): RequestRecord {
  return {
    label: 'unknown',
    modelId: null,
    upstream: null,
    servedAs: null,
    status: 0,
    usage: null,
    error: null,
    retried: false,
  };
}

/** The metrics error code of a request that failed with `e`. */
export function errorCodeOf(e: unknown): GatewayErrorCode {
  if (e instanceof QueueTimeoutError) return 'queue_timeout';
  if (e instanceof UpstreamUnavailableError) return 'upstream_unavailable';
  if (e instanceof AppError) {
    if (e.openAiCode === 'model_not_found') return 'model_not_found';
    if (e.openAiCode === 'model_not_running') return 'model_not_running';
    if (e.openAiCode === 'insufficient_memory') return 'insufficient_memory';
    if (e.openAiCode === 'model_too_large') return 'model_too_large';
    if (e.openAiCode === 'model_not_ready') return 'queue_timeout';
    if (e.status < 500) return 'invalid_request';
  }
  return 'internal_error';
}
