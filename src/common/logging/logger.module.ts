import { LoggerModule } from 'nestjs-pino';
import pino from 'pino';
import { MagiConfig } from '../../config/magi-config';
import { magiConfig } from '../../config/magi-config.provider';

/** Paths whose request logs are noise for operators (probes, scrapes). */
const QUIET_PATHS = /^\/(health\/|metrics$)/;

/**
 * JSON logs through pino. Request logs carry method, route, status and duration;
 * authorization headers and API keys are redacted at the source.
 *
 * Lines are written to stdout synchronously, one write(2) each. pino's default
 * destination writes through libuv's thread pool instead, and on a busy gateway (one
 * line per request) the hop to a pool thread and back cost more than the write itself;
 * a synchronous write also never loses the last lines of a crash.
 */
export const AppLoggerModule = LoggerModule.forRootAsync({
  inject: [magiConfig.KEY],
  useFactory: (config: MagiConfig) => ({
    pinoHttp: [
      {
        level: config.server.logLevel,
        autoLogging: { ignore: (req) => QUIET_PATHS.test(req.url ?? '') },
        redact: {
          paths: ['req.headers.authorization', 'req.headers["x-api-key"]', '*.apiKey', '*.token'],
          censor: '[redacted]',
        },
        serializers: {
          req: (req: { method: string; url: string; id: unknown }) => ({ id: req.id, method: req.method, url: req.url }),
          res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        },
      },
      pino.destination({ dest: 1, sync: true }),
    ],
  }),
});
