import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/errors/api-errors.decorator';
import {
  ActivationResultDto,
  ActiveProfileDto,
  ProfileDeletedDto,
  ProfileDto,
  ProfileWrittenDto,
  toProfileDto,
} from './dto/profile.dto';
import { ProfilesService } from './profiles.service';

const NAME = {
  name: 'name',
  description:
    'Profile key: its file name without `.yaml`, matching ^[a-z0-9][a-z0-9_-]{0,63}$ (anything else is 400 InvalidProfileName)',
  example: 'development',
};

@ApiTags('profiles')
@ApiBearerAuth()
@Controller('api/models/profiles')
export class ProfilesController {
  constructor(private readonly profiles: ProfilesService) {}

  @Get()
  @ApiOperation({
    summary: 'Profile keys, sorted',
    description: 'Every `*.yaml` file of PROFILES_PATH whose name is a key, valid or not.',
  })
  @ApiOkResponse({
    description: 'Profile keys, sorted',
    schema: { type: 'array', items: { type: 'string' }, example: ['development', 'fast-only', 'production'] },
  })
  @ApiErrors()
  list(): Promise<string[]> {
    return this.profiles.list();
  }

  // Declared before ':name' so that `active` is never read as a profile key.
  @Get('active')
  @ApiOperation({
    summary: 'The active profile',
    description: 'Its key and content; `profile` is null while its file is missing or invalid.',
  })
  @ApiOkResponse({ type: ActiveProfileDto })
  @ApiErrors()
  active(): Promise<ActiveProfileDto> {
    return this.profiles.activeView();
  }

  @Get(':name')
  @ApiOperation({
    summary: 'One profile',
    description: 'Read from its file on each request, so hand-edits show at once.',
  })
  @ApiParam(NAME)
  @ApiOkResponse({ type: ProfileDto })
  @ApiErrors(400, 404, 422)
  async get(@Param('name') name: string): Promise<ProfileDto> {
    return toProfileDto(await this.profiles.get(name));
  }

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary: 'Create a profile',
    description:
      "The key is derived from `name`: lowercased, each run of characters outside [a-z0-9_-] turned into one '-', '-' trimmed (`My Profile!` → `my-profile`).",
  })
  @ApiCreatedResponse({ type: ProfileWrittenDto })
  @ApiErrors(400, 409, 413)
  create(@Body() body: ProfileDto): Promise<ProfileWrittenDto> {
    return this.profiles.create(body);
  }

  @Put(':name')
  @ApiOperation({
    summary: 'Replace a profile',
    description: 'The key stays even when `name` (the display name) changes.',
  })
  @ApiParam(NAME)
  @ApiOkResponse({ type: ProfileWrittenDto })
  @ApiErrors(400, 404, 413)
  replace(@Param('name') name: string, @Body() body: ProfileDto): Promise<ProfileWrittenDto> {
    return this.profiles.replace(name, body);
  }

  @Delete(':name')
  @ApiOperation({
    summary: 'Delete a profile',
    description: 'The active profile cannot be deleted (409 ProfileActive).',
  })
  @ApiParam(NAME)
  @ApiOkResponse({ type: ProfileDeletedDto })
  @ApiErrors(400, 404, 409)
  remove(@Param('name') name: string): Promise<ProfileDeletedDto> {
    return this.profiles.remove(name);
  }

  @Post(':name/activate')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Activate a profile',
    description:
      'Persists it in STATE_PATH and reconciles the fleet: servers of models that stay enabled keep running, the others stop, new ones start. Answers once the stops are done and the starts launched, without waiting for readiness.',
  })
  @ApiParam(NAME)
  @ApiOkResponse({ type: ActivationResultDto })
  @ApiErrors(400, 404, 422)
  activate(@Param('name') name: string): Promise<ActivationResultDto> {
    return this.profiles.activate(name);
  }
}
