import { INestApplication, Logger } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import express, { NextFunction, Request, Response } from 'express';
import type { IncomingMessage } from 'node:http';
import type { Logger as Pino } from 'pino';
import { pinoHttp } from 'pino-http';
import { BearerAuthService } from './common/auth/bearer-auth.service';
import { toAppError, writeError } from './common/errors/error-writer';
import { ValidationFailedError } from './common/errors/app-error';
import { AppLogger, ROOT_LOGGER } from './common/logging/app-logger';
import { API_BODY_LIMITS, plainShapeProblem } from './common/validation/plain-shape';
import { MagiConfig } from './config/magi-config';
import { installGatewayListener } from './gateway/gateway-listener';
import { GatewayService } from './gateway/gateway.service';
import { httpMetricsMiddleware } from './metrics/http-metrics.middleware';
import { MetricsService } from './metrics/metrics.service';

/** The OpenAPI document: every route, DTO and status code, with the bearer scheme. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle('MAGI model server')
    .setDescription(
      'Runs a local LLM estate: GGUF model registry, configuration profiles, the llama-server fleet, ' +
        'provider health, downloads from a Hugging Face hub and an OpenAI-compatible gateway. ' +
        'Errors use `{error, message, details}`; `/v1` errors use the OpenAI error shape.',
    )
    .setVersion('0.1.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'One of API_TOKENS (when configured)' })
    .addTag('registry', 'Discovered GGUF models, overrides and tiers')
    .addTag('profiles', 'YAML configuration profiles')
    .addTag('servers', 'The llama-server fleet')
    .addTag('providers', 'LLM provider health, model listing and pulls')
    .addTag('downloads', "A hub repository's GGUF files with their memory cost, and verified, resumable downloads")
    .addTag('openai', 'OpenAI-compatible routes')
    .addTag('health', 'Kubernetes probes')
    .addTag('metrics', 'Prometheus metrics');
  return SwaggerModule.createDocument(app, builder.build());
}

/**
 * Requests Node's HTTP parser refuses (over-long headers, malformed request lines) never
 * reach Express; answer them in the error shape too instead of Node's bare status line.
 */
function shapeClientErrors(app: NestExpressApplication): void {
  const server = app.getHttpServer();
  server.on('clientError', (err: NodeJS.ErrnoException, socket: import('node:stream').Duplex) => {
    if (!socket.writable || err.code === 'ECONNRESET') return socket.destroy();
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const [status, type, message] = tooLarge
      ? [431, 'HeadersTooLarge', 'Request headers are too large']
      : [400, 'BadRequest', 'Malformed HTTP request'];
    // The request line, when Node kept it, tells whether the client speaks OpenAI's error shape.
    const raw = (err as { rawPacket?: Buffer }).rawPacket?.subarray(0, 2048).toString('latin1') ?? '';
    const path = /^[A-Z]+ (\/\S*)/.exec(raw)?.[1] ?? '';
    const body = JSON.stringify(
      /^\/v1(\/|$|\?)/i.test(path)
        ? {
            error: {
              message,
              type: 'invalid_request_error',
              param: null,
              code: type === 'HeadersTooLarge' ? 'headers_too_large' : 'bad_request',
            },
          }
        : { error: type, message, details: {} },
    );
    socket.end(
      `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}

/** Paths whose request logs are noise for operators (probes, scrapes). */
const QUIET_PATHS = /^\/(health\/|metrics(\?|$))/;

/** One line per request: method, url, status and duration, on the root logger. */
function requestLogger(root: Pino) {
  return pinoHttp({
    logger: root,
    autoLogging: { ignore: (req: IncomingMessage) => QUIET_PATHS.test(req.url ?? '') },
    serializers: {
      req: (req: { method: string; url: string; id: unknown }) => ({ id: req.id, method: req.method, url: req.url }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  });
}

/**
 * Everything main.ts and the tests both need on an app before init: body parsers with
 * their limits, their errors in our shape, Swagger at /docs (+ /docs-json).
 */
export function configureApp(app: NestExpressApplication, config: MagiConfig): void {
  app.useLogger(app.get(AppLogger));
  app.flushLogs();
  app.use(requestLogger(app.get<Pino>(ROOT_LOGGER)));
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(httpMetricsMiddleware(app.get(MetricsService)));
  // Auth runs before routing, so unknown /api and /v1 paths are 401 too without a token.
  const guard = app.get(BearerAuthService);
  app.use((req: Request, res: Response, next: NextFunction) => {
    try {
      guard.check(req);
    } catch (e) {
      return writeError(req, res, toAppError(e, req));
    }
    next();
  });
  const mb = (n: number): number => Math.floor(n * 1024 * 1024);
  app.use('/api', express.json({ limit: mb(config.server.apiBodyLimitMb), type: ['application/json', '+json'] }));
  // Gateway routes keep their body as bytes: the gateway reads `model` from them and forwards them
  // (src/gateway); a compressed body is refused (415), never inflated.
  app.use('/v1', express.json({ limit: mb(config.gateway.maxBodyMb), type: ['application/json', '+json'] }));
  // class-transformer walks bodies recursively: refuse absurd nesting before it can overflow the stack.
  app.use('/api', (req: Request, _res: Response, next: NextFunction) => {
    const body: unknown = req.body;
    const problem = body !== null && typeof body === 'object' ? plainShapeProblem(body, API_BODY_LIMITS) : null;
    next(
      problem
        ? new ValidationFailedError(`Invalid request body: it ${problem}`, { reason: `the body ${problem}` })
        : undefined,
    );
  });
  // body-parser errors happen before Nest's router, so they are shaped here, with the same writer.
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (!err) return next();
    writeError(req, res, toAppError(err, req));
  });
  shapeClientErrors(app);
  // The gateway's POST routes are answered ahead of Express (gateway-listener.ts).
  installGatewayListener(app.getHttpServer(), {
    gateway: app.get(GatewayService),
    auth: guard,
    metrics: app.get(MetricsService),
    maxBodyBytes: mb(config.gateway.maxBodyMb),
  });

  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    swaggerOptions: { persistAuthorization: true, tryItOutEnabled: false },
  });
  if (config.auth.apiTokens.length === 0) {
    new Logger('Auth').warn('API_TOKENS is empty: /api and /v1 are open to anyone who can reach this port');
  }
}
