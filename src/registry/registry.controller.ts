import { Body, Controller, Get, Header, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/errors/api-errors.decorator';
import { ValidationFailedError } from '../common/errors/app-error';
import { ErrorResponseDto } from '../common/errors/error-response.dto';
import {
  DiscoveredModelDto,
  MemoryEstimateDto,
  MemoryQueryDto,
  RegistryResponseDto,
  RescanResponseDto,
  SetEnabledDto,
  SetEnabledResponseDto,
  SetThinkingDto,
  SetThinkingResponseDto,
  SetTierDto,
  SetTierResponseDto,
  toMemoryEstimateDto,
  toModelDto,
  toRescanDto,
} from './dto/model.dto';
import { RegistryView } from './registry-view';
import { RegistryService } from './registry.service';
import { TIERS } from '../common/vocabulary/tiers';

const MODEL_ID = { name: 'modelId', description: 'Registry model id', example: 'qwen3_4b_q4km' };

@ApiTags('registry')
@ApiBearerAuth()
@Controller('api/models')
export class RegistryController {
  constructor(
    private readonly registry: RegistryService,
    private readonly view: RegistryView,
  ) {}

  @Get('registry')
  @ApiOperation({
    summary: 'The whole registry',
    description: 'Every discovered model keyed by id, scan settings and scan errors.',
  })
  @ApiOkResponse({ type: RegistryResponseDto })
  @ApiErrors()
  @Header('Content-Type', 'application/json; charset=utf-8')
  registryView(): string {
    return this.view.json();
  }

  @Get('registry/:modelId')
  @ApiOperation({ summary: 'One discovered model' })
  @ApiParam(MODEL_ID)
  @ApiOkResponse({ type: DiscoveredModelDto })
  @ApiErrors(404)
  getModel(@Param('modelId') modelId: string): DiscoveredModelDto {
    return toModelDto(this.registry.get(modelId));
  }

  @Get('registry/:modelId/memory')
  @ApiOperation({
    summary: 'Memory a model needs with given server settings',
    description:
      'What one llama-server process would allocate for the model, from its GGUF header alone (nothing is loaded): ' +
      'the same object as its `memoryEstimate`, for the settings asked for; each one not given is the active ' +
      "profile's (none there: llama-server's default).",
  })
  @ApiParam(MODEL_ID)
  @ApiOkResponse({ type: MemoryEstimateDto, description: 'The bytes llama-server would allocate with those settings' })
  @ApiErrors(404)
  @ApiResponse({
    status: 400,
    type: ErrorResponseDto,
    description:
      'ValidationFailed: a query parameter out of range (each listed in details.fields); InvalidMemorySettings: ' +
      'settings llama-server itself refuses for this model (details.reason, e.g. a quantized cache type whose ' +
      'block does not divide the head size)',
  })
  @ApiResponse({
    status: 422,
    type: ErrorResponseDto,
    description: "MemoryEstimateUnavailable: the model's header does not tell what the estimate needs (details.reason)",
  })
  memory(@Param('modelId') modelId: string, @Query() query: MemoryQueryDto): MemoryEstimateDto {
    return toMemoryEstimateDto(this.registry.memoryEstimate(modelId, query));
  }

  @Post('rescan')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Rescan the model folder',
    description: 'Reads headers of new or changed files only; keeps every override of models still present.',
  })
  @ApiOkResponse({ type: RescanResponseDto })
  @ApiErrors()
  async rescan(): Promise<RescanResponseDto> {
    return toRescanDto(await this.registry.rescan());
  }

  @Put(':modelId/tier')
  @ApiOperation({ summary: 'Override (or with null clear) the tier of a model' })
  @ApiParam(MODEL_ID)
  @ApiOkResponse({ type: SetTierResponseDto })
  @ApiErrors(400, 404)
  async setTier(@Param('modelId') modelId: string, @Body() body: SetTierDto): Promise<SetTierResponseDto> {
    if (body.tier === undefined) {
      throw new ValidationFailedError('Invalid request: tier', {
        fields: { tier: [`tier is required: one of ${TIERS.join(', ')} or null`] },
      });
    }
    const r = await this.registry.setTier(modelId, body.tier);
    const message = r.override
      ? `Tier of ${modelId} set to ${r.tier}`
      : `Tier override of ${modelId} cleared (now ${r.tier})`;
    return { message, modelId, ...r };
  }

  @Put(':modelId/thinking')
  @ApiOperation({ summary: 'Override (or with null clear) the thinking flag of a model' })
  @ApiParam(MODEL_ID)
  @ApiOkResponse({ type: SetThinkingResponseDto })
  @ApiErrors(400, 404)
  async setThinking(@Param('modelId') modelId: string, @Body() body: SetThinkingDto): Promise<SetThinkingResponseDto> {
    const r = await this.registry.setThinking(modelId, body.thinking);
    const message = r.override
      ? `Thinking flag of ${modelId} set to ${r.thinking}`
      : `Thinking override of ${modelId} cleared (now ${r.thinking})`;
    return { message, modelId, ...r };
  }

  @Put(':modelId/enabled')
  @ApiOperation({
    summary: 'Enable or disable a model',
    description: 'The fleet applies it live when it can (restartRequired false).',
  })
  @ApiParam(MODEL_ID)
  @ApiOkResponse({ type: SetEnabledResponseDto })
  @ApiErrors(400, 404)
  async setEnabled(@Param('modelId') modelId: string, @Body() body: SetEnabledDto): Promise<SetEnabledResponseDto> {
    const r = await this.registry.setEnabled(modelId, body.enabled);
    return { message: `${modelId} ${r.enabled ? 'enabled' : 'disabled'}`, modelId, ...r };
  }

  @Get('tiers/:tier')
  @ApiOperation({ summary: 'Models whose effective tier is the given one' })
  @ApiParam({ name: 'tier', enum: TIERS, example: 'fast' })
  @ApiOkResponse({ type: [DiscoveredModelDto] })
  @ApiErrors(400)
  byTier(@Param('tier') tier: string): DiscoveredModelDto[] {
    return this.registry.byTier(tier).map(toModelDto);
  }
}
