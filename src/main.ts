import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { configureApp } from './app.setup';
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
}

bootstrap().catch((e: Error) => {
  process.stderr.write(`MAGI failed to start: ${e.message}\n`);
  process.exit(1);
});
