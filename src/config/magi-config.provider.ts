import { ConfigModule, registerAs } from '@nestjs/config';
import { DynamicModule } from '@nestjs/common';
import { MagiConfig } from './magi-config';

/**
 * The typed config namespace. Inject with `@Inject(magiConfig.KEY) config: MagiConfig`.
 * The token depends only on the name, so `configModuleFor` can hand in an already
 * validated tree (main.ts validates before Nest starts; tests build one per app).
 */
export const magiConfig = registerAs('magi', (): MagiConfig => {
  throw new Error('magiConfig must be loaded through configModuleFor()');
});

/** @nestjs/config module holding this one validated tree; no .env files, no second config system. */
export function configModuleFor(config: MagiConfig): Promise<DynamicModule> {
  return ConfigModule.forRoot({
    isGlobal: true,
    ignoreEnvFile: true,
    load: [registerAs('magi', () => config)],
  });
}
