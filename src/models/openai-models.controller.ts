import { Controller, Get, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiOpenAiErrors } from '../common/errors/api-errors.decorator';
import { MODELS_SOURCES, OpenAiModelListDto } from './dto/openai-models.dto';
import { OpenAiModelsService } from './openai-models.service';

@ApiTags('openai')
@ApiBearerAuth()
@Controller('v1')
export class OpenAiModelsController {
  constructor(private readonly models: OpenAiModelsService) {}

  @Get('models')
  @ApiOperation({
    summary: 'OpenAI model list',
    description:
      "LiteLLM's list (cached MODELS_CACHE_TTL s) when LITELLM_BASE_URL is set; when it fails the last good list, else the fleet's " +
      "ready models plus FALLBACK_MODELS. Without LiteLLM: the fleet's models, each with its status (loaded, loading, unloaded), " +
      "the active profile's aliases, and the tiers a request can be served by (a ready server, or an on-demand model to load).",
  })
  @ApiOkResponse({
    type: OpenAiModelListDto,
    description: 'The models an OpenAI client can name',
    headers: {
      'X-Models-Source': {
        description: `Where the list came from: ${MODELS_SOURCES.join(', ')}`,
        schema: { type: 'string', enum: [...MODELS_SOURCES] },
      },
    },
  })
  @ApiOpenAiErrors()
  // passthrough: only to set the X-Models-Source header; Nest still writes the body.
  async list(@Res({ passthrough: true }) res: Response): Promise<OpenAiModelListDto> {
    const { source, body } = await this.models.list();
    res.setHeader('X-Models-Source', source);
    return body;
  }
}
