import 'reflect-metadata';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsPositive,
  IsString,
  IsUrl,
  Max,
  Min,
  MinLength,
  ValidateBy,
  ValidateNested,
} from 'class-validator';
import type { MemoryBudgetSetting } from '../common/units/memory-size';

export const LLM_PROVIDER_NAMES = ['openai', 'lmstudio', 'ollama', 'llamacpp'] as const;
export type LlmProviderName = (typeof LLM_PROVIDER_NAMES)[number];
export const LLM_PROVIDER_CHOICES = [...LLM_PROVIDER_NAMES, 'auto'] as const;
export type LlmProviderChoice = (typeof LLM_PROVIDER_CHOICES)[number];
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const URL_OPTS = { require_tld: false, require_protocol: true, protocols: ['http', 'https'] };

/** A parsed budget: bytes (a safe integer above 0), `auto` or `off`. The loader parses the text forms first. */
function IsMemoryBudgetSetting(): PropertyDecorator {
  return ValidateBy({
    name: 'isMemoryBudgetSetting',
    validator: {
      validate: (v: unknown) => v === 'auto' || v === 'off' || (Number.isSafeInteger(v) && (v as number) > 0),
      defaultMessage: () => '$property must be a size with a unit (e.g. 24GiB), auto or off',
    },
  });
}

export class ServerConfig {
  @IsString() @MinLength(1) host: string;
  @IsInt() @Min(0) @Max(65535) port: number;
  @IsIn(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }) logLevel: string;
  @IsNumber() @Min(0.001) apiBodyLimitMb: number;
}

export class AuthConfig {
  @IsArray() @IsString({ each: true }) @MinLength(1, { each: true }) apiTokens: string[];
}

export class TierThresholdsConfig {
  @IsNumber() @Min(0) powerfulMin: number;
  @IsNumber() @Min(0) fastMax: number;
}

export class RegistryConfig {
  @IsString() @MinLength(1) scanPath: string;
  @IsString() @MinLength(1) registryPath: string;
  @ValidateNested() @Type(() => TierThresholdsConfig) tierThresholds: TierThresholdsConfig;
}

export class ProfilesConfig {
  @IsString() @MinLength(1) path: string;
  /** Set only when ACTIVE_PROFILE (or a config file) names one; otherwise state, then `development`. */
  @IsOptional() @IsString() @MinLength(1) activeProfile: string | null;
  @IsString() @MinLength(1) statePath: string;
}

export class FleetConfig {
  /** [from, to], inclusive. */
  @IsArray()
  @ArrayMaxSize(2)
  @IsInt({ each: true })
  @Min(1, { each: true })
  @Max(65535, { each: true })
  portRange: [number, number];
  @IsString() @MinLength(1) llamaServerPath: string;
  @IsString() @MinLength(1) host: string;
  @IsNumber() @Min(0.01) maxStartupTime: number;
  @IsNumber() @Min(0.01) readinessCheckInterval: number;
  @IsNumber() @Min(0) stopGraceSeconds: number;
  @IsInt() @Min(1) restartBackoffInitialMs: number;
  @IsInt() @Min(1) restartBackoffMaxMs: number;
  @IsInt() @Min(1) maxFailures: number;
  @IsNumber() @Min(1) failureWindowSeconds: number;
  @IsInt() @Min(10) logLines: number;
  /** FLEET_MEMORY_BUDGET: what the fleet's servers may use together, in bytes; `auto` or `off` (API.md §9). */
  @IsMemoryBudgetSetting() memoryBudget: MemoryBudgetSetting;
  /** FLEET_MEMORY_RESERVE in bytes: what an `auto` budget leaves to the system and MAGI. */
  @IsInt() @Min(0) memoryReserveBytes: number;
}

export class OpenAiConfig {
  @IsOptional() @IsString() apiKey: string | null;
  @IsString() @MinLength(1) model: string;
  @IsUrl(URL_OPTS) baseUrl: string;
  @IsBoolean() verify: boolean;
}

export class BaseUrlConfig {
  @IsUrl(URL_OPTS) baseUrl: string;
}

export class ProvidersConfig {
  @IsIn(LLM_PROVIDER_CHOICES) llmProvider: LlmProviderChoice;
  @IsInt() @Min(1) timeoutMs: number;
  @IsInt() @Min(0) cacheMs: number;
  @ValidateNested() @Type(() => OpenAiConfig) openai: OpenAiConfig;
  @ValidateNested() @Type(() => BaseUrlConfig) lmstudio: BaseUrlConfig;
  @ValidateNested() @Type(() => BaseUrlConfig) ollama: BaseUrlConfig;
  @ValidateNested() @Type(() => BaseUrlConfig) llamacpp: BaseUrlConfig;
}

export class LiteLlmConfig {
  /** Normalised without a trailing `/v1` or `/`. */
  @IsOptional() @IsUrl(URL_OPTS) baseUrl: string | null;
  @IsOptional() @IsString() apiKey: string | null;
  @IsNumber() @Min(0) modelsCacheTtl: number;
  @IsArray() @IsString({ each: true }) fallbackModels: string[];
}

export class GatewayConfig {
  @IsNumber() @Min(0.001) maxBodyMb: number;
  @IsNumber() @Min(0) queueTimeout: number;
  /** GATEWAY_LOAD_TIMEOUT: seconds a request waits for its on-demand model to load; default fleet.maxStartupTime. */
  @IsNumber() @IsPositive() loadTimeout: number;
}

export class DownloadsConfig {
  /** A Hugging Face hub or a mirror speaking its API. */
  @IsUrl(URL_OPTS) hfEndpoint: string;
  /** Bearer token sent to the hub only (never to the file host it redirects to); never logged. */
  @IsOptional() @IsString() hfToken: string | null;
  @IsInt() @Min(1) @Max(16) concurrency: number;
}

/** The whole validated configuration tree (config/default.yaml → CONFIG_FILE → env). */
export class MagiConfig {
  @ValidateNested() @Type(() => ServerConfig) server: ServerConfig;
  @ValidateNested() @Type(() => AuthConfig) auth: AuthConfig;
  @ValidateNested() @Type(() => RegistryConfig) registry: RegistryConfig;
  @ValidateNested() @Type(() => ProfilesConfig) profiles: ProfilesConfig;
  @ValidateNested() @Type(() => FleetConfig) fleet: FleetConfig;
  @ValidateNested() @Type(() => ProvidersConfig) providers: ProvidersConfig;
  @ValidateNested() @Type(() => LiteLlmConfig) litellm: LiteLlmConfig;
  @ValidateNested() @Type(() => GatewayConfig) gateway: GatewayConfig;
  @ValidateNested() @Type(() => DownloadsConfig) downloads: DownloadsConfig;
}
