import { LoggerModule } from 'nestjs-pino';
import { MagiConfig } from '../../config/magi-config';
import { magiConfig } from '../../config/magi-config.provider';
import { stdoutDestination } from './coalescing-destination';

/** Paths whose request logs are noise for operators (probes, scrapes). */
const QUIET_PATHS = /^\/(health\/|metrics$)/;

/**
 * JSON logs through pino. Request logs carry method, route, status and duration;
 * authorization headers and API keys are redacted at the source.
 *
 * Lines go to stdout through one CoalescingDestination: the lines of one event-loop
 * turn leave in one synchronous write at its end (see coalescing-destination.ts).
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
      stdoutDestination(),
    ],
  }),
});
