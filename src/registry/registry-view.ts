import { Inject, Injectable } from '@nestjs/common';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { toRegistryDto } from './dto/model.dto';
import { RegistryService } from './registry.service';

/**
 * The JSON of `GET /api/models/registry`, serialised once per registry revision: with
 * 1,000 models the serialisation, not the lookup, is the cost of that route.
 */
@Injectable()
export class RegistryView {
  private readonly portRange: [number, number];
  private cache: { revision: number; json: string } | null = null;

  constructor(
    private readonly registry: RegistryService,
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    this.portRange = config.fleet.portRange;
  }

  /** The whole registry as a RegistryResponseDto, already serialised. */
  json(): string {
    const revision = this.registry.revision;
    if (this.cache?.revision !== revision) {
      this.cache = { revision, json: JSON.stringify(toRegistryDto(this.registry, this.portRange)) };
    }
    return this.cache.json;
  }
}
