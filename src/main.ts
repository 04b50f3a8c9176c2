import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { configureApp } from './app.setup';
import { httpOrigin } from './common/net/host';
import { ConfigError, loadMagiConfig } from './config/load-config';

async function bootstrap(): Promise<void> {
  let config;
  try {
    config = loadMagiConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    bufferLogs: true,
  });
  configureApp(app, config);
  app.enableShutdownHooks();
  await app.listen(config.server.port, config.server.host);
  // The one line a newcomer needs: where the API is and where to explore it.
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = httpOrigin(config.server.host, port);
  new Logger('Main').log({ url, docs: `${url}/docs` }, `MAGI listens on ${url} (Swagger UI at ${url}/docs)`);
}

bootstrap().catch((e: Error) => {
  process.stderr.write(`MAGI failed to start: ${e.message}\n`);
  process.exit(1);
});
