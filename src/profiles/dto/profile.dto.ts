import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateBy,
  ValidateNested,
  ValidationOptions,
  buildMessage,
} from 'class-validator';
import { BALANCING_STRATEGIES, BalancingStrategy } from '../../common/vocabulary/balancing-strategies';
import type { ProfileServerSettings } from '../../common/vocabulary/server-settings';
import { TIERS, Tier } from '../../common/vocabulary/tiers';
import { parseMemoryBudget } from '../../common/units/memory-size';
import { DEFAULT_IDLE_TIMEOUT_SECONDS, Profile, TierConfigEntry } from '../profile.types';

export const GPU_LAYER_WORDS = ['auto', 'all'] as const;

/** Limits that keep hostile bodies and files small and shallow (they are 400s, never 500s). */
export const PROFILE_LIMITS = {
  name: 200,
  description: 2000,
  enabledModels: 1000,
  modelPattern: 200,
  tierConfig: 3,
  extraArgs: 64,
  extraArg: 1000,
  aliases: 1000,
  aliasText: 200,
  memoryBudget: 50,
} as const;

/** Bounds of numbers a timer or a count must hold (setTimeout takes at most 2^31 - 1 ms, about 24.8 days). */
const MAX_IDLE_TIMEOUT_SECONDS = 2_000_000;
const MAX_RUNNING = 65535;

const FINITE = { allowNaN: false, allowInfinity: false };
/** Model ids are `[a-z0-9_]`; globs add `*` and `?`. `-` and `.` are allowed for ids of other sources. */
const MODEL_PATTERN = /^[a-z0-9_.*?-]+$/;

/**
 * A list of model ids or glob patterns (enabledModels, onDemand.models): its schema and its
 * checks, with `field` naming the list in the pattern message.
 */
function ModelPatternList(field: string, example: string[]): PropertyDecorator {
  const { enabledModels: maxItems, modelPattern: maxLength } = PROFILE_LIMITS;
  return applyDecorators(
    // The item bounds are given to Swagger here: the CLI plugin's class-validator shim reads MinLength and
    // MaxLength only where they are written on the field, not inside this decorator.
    ApiProperty({ type: [String], minLength: 1, maxLength, maxItems, example }),
    // class-validator lists failures in the order the checks were applied; stacked decorators apply
    // bottom-up, so these stand bottom-up (Matches first, IsArray last) and the messages keep their order.
    Matches(MODEL_PATTERN, {
      each: true,
      message: `each value in ${field} must be a model id or a glob pattern (a-z, 0-9, _ - . and the wildcards * ?)`,
    }),
    MaxLength(maxLength, { each: true }),
    MinLength(1, { each: true }),
    IsString({ each: true }),
    ArrayMaxSize(maxItems),
    IsArray(),
  );
}

/** An integer ≥ 0, or `auto` / `all` (llama-server's `--n-gpu-layers` words). */
function IsGpuLayers(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isGpuLayers',
      validator: {
        validate: (v: unknown) =>
          (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 100000) ||
          (typeof v === 'string' && (GPU_LAYER_WORDS as readonly string[]).includes(v)),
        defaultMessage: buildMessage(
          (each) => `${each}$property must be an integer >= 0 or one of ${GPU_LAYER_WORDS.join(', ')}`,
        ),
      },
    },
    options,
  );
}

/** A plain object whose keys and values are non-empty strings, with bounded size. */
function IsStringMap(options?: ValidationOptions): PropertyDecorator {
  const { aliases: maxEntries, aliasText: maxLen } = PROFILE_LIMITS;
  return ValidateBy(
    {
      name: 'isStringMap',
      validator: {
        validate: (v: unknown) => {
          if (!v || typeof v !== 'object' || Array.isArray(v) || Object.getPrototypeOf(v) !== Object.prototype)
            return false;
          const entries = Object.entries(v);
          return (
            entries.length <= maxEntries &&
            entries.every(
              ([k, val]) =>
                k.length > 0 && k.length <= maxLen && typeof val === 'string' && val.length > 0 && val.length <= maxLen,
            )
          );
        },
        defaultMessage: buildMessage(
          () =>
            `$property must map names to model ids or tiers (non-empty strings of at most ${maxLen} characters, at most ${maxEntries} entries)`,
        ),
      },
    },
    options,
  );
}

/** A memory budget as parseMemoryBudget reads it: a size with a unit (`24GiB`), `auto` or `off`. */
function IsMemoryBudget(options?: ValidationOptions): PropertyDecorator {
  const accepted = (v: unknown): boolean => {
    if (typeof v !== 'string' || v.length > PROFILE_LIMITS.memoryBudget) return false;
    try {
      parseMemoryBudget(v, 'memoryBudget');
      return true;
    } catch {
      return false;
    }
  };
  return ValidateBy(
    {
      name: 'isMemoryBudget',
      validator: {
        validate: accepted,
        // parseMemoryBudget's own reason (e.g. a budget of 0) for a short string; never echoes a long value.
        defaultMessage: (args) => {
          const v: unknown = args?.value;
          if (typeof v === 'string' && v.length <= PROFILE_LIMITS.memoryBudget) {
            try {
              parseMemoryBudget(v, 'memoryBudget');
            } catch (e) {
              return (e as Error).message;
            }
          }
          return 'memoryBudget must be a size with a unit (such as 24GiB or 512MB), auto or off';
        },
      },
    },
    options,
  );
}

export class TierConfigEntryDto implements TierConfigEntry {
  /** The tier this entry describes. */
  @ApiProperty({ enum: TIERS, example: 'fast' })
  @IsIn(TIERS, { message: `name must be one of ${TIERS.join(', ')}` })
  name: Tier;

  /**
   * Highest query-complexity score routed to this tier.
   * @example 3
   */
  @IsNumber(FINITE)
  @Min(0)
  maxScore: number;

  /**
   * Answer time users can expect from this tier, in seconds.
   * @example 2
   */
  @IsNumber(FINITE)
  @Min(0)
  expectedTimeSeconds: number;

  /**
   * What this tier is for.
   * @example "Simple queries"
   */
  @IsOptional()
  @IsString()
  @MaxLength(PROFILE_LIMITS.description)
  description?: string;
}

export class TwoStageDto {
  /**
   * Whether a draft from `stage1Tier` is refined by `stage2Tier`.
   * @example false
   */
  @IsBoolean()
  enabled: boolean;

  /** Tier that writes the first stage. */
  @ApiProperty({ enum: TIERS, example: 'balanced' })
  @IsIn(TIERS, { message: `stage1Tier must be one of ${TIERS.join(', ')}` })
  stage1Tier: Tier;

  /** Tier that writes the second stage. */
  @ApiProperty({ enum: TIERS, example: 'powerful' })
  @IsIn(TIERS, { message: `stage2Tier must be one of ${TIERS.join(', ')}` })
  stage2Tier: Tier;

  /**
   * Token budget of the first stage (a positive integer).
   * @example 500
   */
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  stage1MaxTokens: number;
}

export class LoadBalancingDto {
  /**
   * Whether requests for a tier are spread over its ready servers.
   * @example true
   */
  @IsBoolean()
  enabled: boolean;

  /** How the gateway picks among the ready servers of a tier. */
  @ApiProperty({ enum: BALANCING_STRATEGIES, example: 'round_robin' })
  @IsIn(BALANCING_STRATEGIES, {
    message: `strategy must be one of ${BALANCING_STRATEGIES.join(', ')}`,
  })
  strategy: BalancingStrategy;

  /**
   * Seconds between health checks of the servers.
   * @example 30
   */
  @IsNumber(FINITE)
  @Min(0)
  healthCheckInterval: number;
}

export class ProfileServerSettingsDto implements ProfileServerSettings {
  /**
   * `--ctx-size` of each llama-server (0: the model's own).
   * @example 4096
   */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10_000_000)
  ctxSize?: number;

  /** `--n-gpu-layers`: an integer ≥ 0, or `auto` / `all`. */
  @ApiPropertyOptional({
    oneOf: [
      { type: 'integer', minimum: 0 },
      { type: 'string', enum: [...GPU_LAYER_WORDS] },
    ],
    example: 0,
  })
  @IsOptional()
  @IsGpuLayers()
  gpuLayers?: number | 'auto' | 'all';

  /**
   * `--parallel`: request slots per server.
   * @example 1
   */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1024)
  parallel?: number;

  /** Further command-line arguments, one per item, passed as they are. */
  @ApiPropertyOptional({ type: [String], example: ['--flash-attn'], maxItems: PROFILE_LIMITS.extraArgs })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(PROFILE_LIMITS.extraArgs)
  @IsString({ each: true })
  @MaxLength(PROFILE_LIMITS.extraArg, { each: true })
  extraArgs?: string[];

  /**
   * Start the servers with `--embeddings` so `/v1/embeddings` can route to them.
   * @example false
   */
  @IsOptional()
  @IsBoolean()
  embeddings?: boolean;
}

export class OnDemandDto {
  /** Enabled models that start on their first request instead of at activation: ids or globs as in enabledModels. */
  @ModelPatternList('onDemand.models', ['qwen3_*'])
  models: string[];

  /**
   * Seconds without a request after which an on-demand server stops (an integer ≥ 1); 600 when omitted.
   * @example 600
   */
  @ApiPropertyOptional({ default: DEFAULT_IDLE_TIMEOUT_SECONDS, minimum: 1, maximum: MAX_IDLE_TIMEOUT_SECONDS })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_IDLE_TIMEOUT_SECONDS)
  idleTimeoutSeconds?: number;
}

/** A profile: request body of POST/PUT, answer of GET, and the content of a profile YAML file. */
export class ProfileDto {
  /**
   * Display name; POST derives the profile's key from it (`My Profile!` → `my-profile`).
   * @example Development
   */
  @IsString()
  @MinLength(1)
  @MaxLength(PROFILE_LIMITS.name)
  name: string;

  /**
   * What the profile is for.
   * @example "Fast iteration with small models"
   */
  @IsOptional()
  @IsString()
  @MaxLength(PROFILE_LIMITS.description)
  description?: string;

  /** Model ids the fleet runs under this profile; glob patterns (`*`, `?`) allowed. */
  @ModelPatternList('enabledModels', ['qwen3_4b_q4km', 'llama_*_8b_*'])
  enabledModels: string[];

  /** Per-tier settings, each tier at most once. */
  @ApiPropertyOptional({ type: [TierConfigEntryDto], maxItems: PROFILE_LIMITS.tierConfig })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(PROFILE_LIMITS.tierConfig)
  @ArrayUnique((e: TierConfigEntryDto) => e?.name, { message: 'tierConfig must name each tier at most once' })
  @ValidateNested({ each: true })
  @Type(() => TierConfigEntryDto)
  tierConfig?: TierConfigEntryDto[];

  /** Two-stage answering (draft, then refine). */
  @IsOptional()
  @ValidateNested()
  @Type(() => TwoStageDto)
  twoStage?: TwoStageDto;

  /** How tier requests are spread over servers. */
  @IsOptional()
  @ValidateNested()
  @Type(() => LoadBalancingDto)
  loadBalancing?: LoadBalancingDto;

  /** llama-server settings for every server of this profile. */
  @IsOptional()
  @ValidateNested()
  @Type(() => ProfileServerSettingsDto)
  server?: ProfileServerSettingsDto;

  /** Gateway aliases: a requested model name → a model id or a tier. */
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { 'gpt-4o-mini': 'qwen3_4b_q4km', 'gpt-4o': 'powerful' },
  })
  @IsOptional()
  @IsStringMap()
  aliases?: Record<string, string>;

  /** Which enabled models start on demand and when they stop; absent: all start at activation. */
  @IsOptional()
  @IsObject({ message: 'onDemand must be a mapping with models and, optionally, idleTimeoutSeconds' })
  @ValidateNested()
  @Type(() => OnDemandDto)
  onDemand?: OnDemandDto;

  /**
   * Memory the servers may use together: a size with a unit (`24GiB`), `auto` or `off`; absent: FLEET_MEMORY_BUDGET.
   * @example 24GiB
   */
  @IsOptional()
  @IsMemoryBudget()
  memoryBudget?: string;

  /**
   * Most servers running at once (an integer ≥ 1); absent: no limit.
   * @example 4
   */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_RUNNING)
  maxRunning?: number;
}

export class ProfileWrittenDto {
  /** What happened. */
  @ApiProperty({ example: "Profile 'My Profile' created" })
  message: string;
  /**
   * The profile's key (its file name without `.yaml`).
   * @example my-profile
   */
  profileName: string;
  /**
   * The file, relative to the profiles folder.
   * @example my-profile.yaml
   */
  path: string;
}

export class ProfileDeletedDto {
  /** What happened. */
  @ApiProperty({ example: "Profile 'my-profile' deleted" })
  message: string;
  /**
   * The key of the deleted profile.
   * @example my-profile
   */
  profileName: string;
}

export class ActiveProfileDto {
  /**
   * Key of the active profile.
   * @example development
   */
  activeProfile: string;
  /** Its content; null when its file is missing or invalid (the fleet then runs nothing). */
  @ApiProperty({ type: ProfileDto, nullable: true })
  profile: ProfileDto | null;
}

export class ActivationResultDto {
  /** What happened. */
  @ApiProperty({ example: "Profile 'production' activated" })
  message: string;
  /**
   * Key of the now active profile.
   * @example production
   */
  activeProfile: string;
  /** Models whose servers were launched. */
  @ApiProperty({ type: [String], example: ['qwen3_14b_q4km'] })
  started: string[];
  /** Models whose servers were stopped. */
  @ApiProperty({ type: [String], example: [] })
  stopped: string[];
  /** Models whose servers kept running. */
  @ApiProperty({ type: [String], example: ['qwen3_4b_q4km'] })
  kept: string[];
}

function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as T;
}

/**
 * The one mapper from a validated DTO to the `Profile` other modules see: known keys
 * only, in the canonical order, optional keys left out when absent or null.
 */
export function toProfile(dto: ProfileDto): Profile {
  return definedOnly<Profile>({
    name: dto.name,
    description: dto.description,
    enabledModels: [...dto.enabledModels],
    tierConfig: dto.tierConfig?.map((t) =>
      definedOnly<TierConfigEntry>({
        name: t.name,
        maxScore: t.maxScore,
        expectedTimeSeconds: t.expectedTimeSeconds,
        description: t.description,
      }),
    ),
    twoStage: dto.twoStage && {
      enabled: dto.twoStage.enabled,
      stage1Tier: dto.twoStage.stage1Tier,
      stage2Tier: dto.twoStage.stage2Tier,
      stage1MaxTokens: dto.twoStage.stage1MaxTokens,
    },
    loadBalancing: dto.loadBalancing && {
      enabled: dto.loadBalancing.enabled,
      strategy: dto.loadBalancing.strategy,
      healthCheckInterval: dto.loadBalancing.healthCheckInterval,
    },
    server:
      dto.server &&
      definedOnly<ProfileServerSettings>({
        ctxSize: dto.server.ctxSize,
        gpuLayers: dto.server.gpuLayers,
        parallel: dto.server.parallel,
        extraArgs: dto.server.extraArgs && [...dto.server.extraArgs],
        embeddings: dto.server.embeddings,
      }),
    aliases: dto.aliases && Object.fromEntries(Object.entries(dto.aliases)),
    onDemand: dto.onDemand && {
      models: [...dto.onDemand.models],
      idleTimeoutSeconds: dto.onDemand.idleTimeoutSeconds ?? DEFAULT_IDLE_TIMEOUT_SECONDS,
    },
    memoryBudget: dto.memoryBudget,
    maxRunning: dto.maxRunning,
  });
}

/** A Profile as the API answers it (a fresh plain copy, camelCase as stored). */
export function toProfileDto(profile: Profile): ProfileDto {
  return structuredClone<ProfileDto>(profile);
}
