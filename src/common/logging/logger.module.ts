import { Global, Module } from '@nestjs/common';
import pino, { Logger as Pino } from 'pino';
import { MagiConfig } from '../../config/magi-config';
import { magiConfig } from '../../config/magi-config.provider';
import { AppLogger, ROOT_LOGGER } from './app-logger';

/**
 * JSON logs through pino: one root logger for the process, Nest's Logger routed to it
 * (AppLogger), and request logs (pino-http, installed in app.setup.ts) on the same root.
 * Authorization headers and API keys are redacted at the source.
 */
@Global()
@Module({
  providers: [
    {
      provide: ROOT_LOGGER,
      inject: [magiConfig.KEY],
      useFactory: (config: MagiConfig): Pino =>
        // pino's default destination: stdout, written synchronously, so no line is lost on exit.
        pino({
          level: config.server.logLevel,
          redact: {
            paths: ['req.headers.authorization', 'req.headers["x-api-key"]', '*.apiKey', '*.token'],
            censor: '[redacted]',
          },
        }),
    },
    AppLogger,
  ],
  exports: [ROOT_LOGGER, AppLogger],
})
export class LoggingModule {}
