import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/errors/api-errors.decorator';
import { LlmStatusDto, toLlmStatusDto } from './dto/llm-status.dto';
import { ProviderStatusService } from './provider-status.service';

@ApiTags('providers')
@ApiBearerAuth()
@Controller('api')
export class LlmStatusController {
  constructor(private readonly providers: ProviderStatusService) {}

  @Get('llm-status')
  @ApiOperation({
    summary: 'Status of the active LLM provider',
    description:
      'The configured provider, or with LLM_PROVIDER=auto the first connected one in the order OpenAI (only with a key), ' +
      'LM Studio, Ollama, llama.cpp. Never 5xx: a provider that is down is reported in the body.',
  })
  @ApiOkResponse({ type: LlmStatusDto, description: 'The active provider and whether it is connected' })
  @ApiErrors()
  async llmStatus(): Promise<LlmStatusDto> {
    return toLlmStatusDto(await this.providers.active());
  }
}
