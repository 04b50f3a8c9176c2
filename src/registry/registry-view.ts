import { Inject, Injectable } from '@nestjs/common';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { toRegistryDto } from './dto/model.dto';
import { MemoryEstimates } from './memory-estimates';
import { RegistryService } from './registry.service';

/**
 * The JSON of `GET /api/models/registry`, serialised once per registry revision and memory
 * settings: with 1,000 models the serialisation, not the lookup, is the cost of that route.
 * Each model's `memoryEstimate` is made for the active profile's server settings, so the copy
 * is made again when those change (an activation, an edit of the active profile), not only
 * when the registry does.
 */
@Injectable()
export class RegistryView {
  private readonly portRange: [number, number];
  private cache: { revision: number; settings: string; json: string } | null = null;

  constructor(
    private readonly registry: RegistryService,
    private readonly memory: MemoryEstimates,
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    this.portRange = config.fleet.portRange;
  }

  /** The whole registry as a RegistryResponseDto, already serialised. */
  json(): string {
    const revision = this.registry.revision;
    const settings = this.memory.active().key;
    if (this.cache?.revision !== revision || this.cache.settings !== settings) {
      this.cache = { revision, settings, json: JSON.stringify(toRegistryDto(this.registry, this.portRange)) };
    }
    return this.cache.json;
  }
}
