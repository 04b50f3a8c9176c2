/**
 * The one error writer: maps anything thrown to an AppError and writes it in the shape of
 * API.md §1 (or OpenAI's under /v1). The global filter, the app's raw middleware and the
 * gateway's listener all answer errors through it.
 */
import { HttpException, HttpStatus } from '@nestjs/common';
import type { Request } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, PayloadTooLargeError } from './app-error';

export interface ErrorBody {
  error: string;
  message: string;
  details: Record<string, unknown>;
}

const TYPE_BY_STATUS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'RouteNotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  408: 'RequestTimeout',
  409: 'Conflict',
  413: 'PayloadTooLarge',
  415: 'UnsupportedMediaType',
  422: 'UnprocessableEntity',
  429: 'TooManyRequests',
  502: 'UpstreamError',
  503: 'ServiceUnavailable',
};

/** body-parser / raw-body errors carry `type` and `status` instead of being HttpExceptions. */
interface BodyParserError {
  type?: string;
  status?: number;
  statusCode?: number;
  expose?: boolean;
  message?: string;
}

/**
 * Maps anything thrown to an AppError: our own errors as they are, Nest's HttpExceptions
 * (unknown route, guards) and body-parser errors to their types, anything else to a
 * generic 500 whose stack only reaches the log.
 */
export function toAppError(exception: unknown, req?: Request): AppError {
  if (exception instanceof AppError) return exception;
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    if (status === 404 && req) {
      return new AppError(
        'RouteNotFound',
        404,
        `Route ${req.method} ${req.path} not found`,
        {
          method: req.method,
          path: req.path,
        },
        'not_found',
      );
    }
    const res = exception.getResponse();
    const message =
      typeof res === 'object' && res && 'message' in res ? [res.message].flat().join('; ') : exception.message;
    return new AppError(TYPE_BY_STATUS[status] ?? (status >= 500 ? 'InternalError' : 'BadRequest'), status, message);
  }
  const bp = exception as BodyParserError;
  const bpStatus = bp?.status ?? bp?.statusCode;
  if (bp && typeof bpStatus === 'number' && bpStatus >= 400 && bpStatus < 500 && bp.expose !== false) {
    if (bpStatus === 413 || bp.type === 'entity.too.large') {
      return new PayloadTooLargeError();
    }
    if (bp.type === 'entity.parse.failed') {
      return new AppError('ValidationFailed', 400, 'Request body is not valid JSON', {}, 'invalid_json');
    }
    if (bp.type === 'encoding.unsupported') {
      // The gateway forwards bodies as received, so it takes none compressed.
      const { encoding } = bp as { encoding?: string };
      const named = typeof encoding === 'string' ? encoding.slice(0, 40) : '';
      return new AppError(
        'UnsupportedMediaType',
        415,
        `Content-Encoding '${named}' is not supported: send the body uncompressed`,
        {},
        'unsupported_content_encoding',
      );
    }
    if (bpStatus === 415) {
      return new AppError('UnsupportedMediaType', 415, bp.message ?? 'Unsupported content type', {});
    }
    return new AppError(TYPE_BY_STATUS[bpStatus] ?? 'BadRequest', bpStatus, bp.message ?? 'Bad request');
  }
  return new AppError('InternalError', 500, 'An unexpected error occurred');
}

function openAiType(status: number): string {
  if (status === 401) return 'invalid_request_error';
  if (status >= 500) return status === 503 ? 'server_error' : 'api_error';
  return 'invalid_request_error';
}

function snake(type: string): string {
  return type.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** Writes an error in the one shape of API.md §1, or OpenAI's shape under /v1. */
export function writeError(req: IncomingMessage | undefined, res: ServerResponse, error: AppError): void {
  // An SSE stream or a proxied answer has already started: nothing more can be said.
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  for (const [k, v] of Object.entries(error.headers ?? {})) res.setHeader(k, v);
  if (error.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
  // Express matches routes case-insensitively, so /V1/... is an OpenAI route too.
  const body =
    req && /^\/v1(\/|$)/i.test(pathOf(req))
      ? {
          error: {
            message: error.message,
            type: openAiType(error.status),
            param: null,
            code: error.openAiCode ?? snake(error.type),
            // Figures a client can act on (a model's bytes against the budget) ride along.
            ...error.openAiFields,
          },
        }
      : ({ error: error.type, message: error.message, details: error.details } satisfies ErrorBody);
  // Plain Node calls, so the same writer serves Express and the gateway's raw listener.
  res.statusCode = error.status || HttpStatus.INTERNAL_SERVER_ERROR;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

/** The path of a request without its query: Express's `req.path`, or cut from the raw URL. */
export function pathOf(req: IncomingMessage): string {
  const express = (req as Partial<Request>).path;
  if (typeof express === 'string') return express;
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
