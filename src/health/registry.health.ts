import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { RegistryService } from '../registry/registry.service';

/** Up once the registry has loaded its file and finished the start-up scan. */
@Injectable()
export class RegistryHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly registry: RegistryService,
  ) {}

  isHealthy<const Key extends string>(
    key: Key,
  ): HealthIndicatorResult<Key, 'up', { models: number }> | HealthIndicatorResult<Key, 'down', { reason: string }> {
    const check = this.indicator.check(key);
    if (!this.registry.isLoaded) return check.down({ reason: 'the model registry is not loaded yet' });
    return check.up({ models: this.registry.list().length });
  }
}
