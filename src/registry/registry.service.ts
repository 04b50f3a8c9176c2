import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { basename, resolve } from 'node:path';
import { Gauge, Histogram } from 'prom-client';
import { Subject } from 'rxjs';
import { AppError, InvalidTierError, ModelNotFoundError, ValidationFailedError } from '../common/errors/app-error';
import { FileStore } from '../common/io/file-store';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { MetricsService } from '../metrics/metrics.service';
import { readFileInfo } from './file-info';
import { RegistryStore } from './registry.store';
import type { FileRecord, RegistryEntry, RegistrySnapshot, ScanError } from './registry.types';
import { ParsedFile, planScan } from './scan-plan';
import { Tier, TierThresholds, assignTier, isTier } from './tiers';

/** A registry entry with its derived fields, as the API shows it. */
export interface DiscoveredModel extends RegistryEntry {
  assignedTier: Tier;
  effectiveTier: Tier;
}

export interface RescanResult {
  modelsFound: number;
  modelsAdded: string[];
  modelsRemoved: string[];
  timestamp: string;
  /** Headers parsed this scan (unchanged files are not read again). */
  headersRead: number;
}

/** Decides whether an enabled change took effect live (the fleet registers one). */
export type EnabledChangeListener = (modelId: string, enabled: boolean) => Promise<boolean>;

const SCAN_CONCURRENCY = 8;

/**
 * The registry of discovered GGUF models: scans, overrides, tiers, and serialized,
 * group-committed persistence (each mutation is acknowledged only after a write that
 * contains it has reached the disk).
 */
@Injectable()
export class RegistryService implements OnModuleInit {
  private readonly logger = new Logger(RegistryService.name);
  private snapshot: RegistrySnapshot = { version: 1, lastScan: null, models: {}, files: {}, scanErrors: [] };
  private loaded = false;
  private scanChain: Promise<unknown> = Promise.resolve();
  private writeChain: Promise<void> = Promise.resolve();
  private pendingWrite: Promise<void> | null = null;
  private enabledListener: EnabledChangeListener | null = null;
  /** Bumped on every change, so views derived from the registry can be cached per version. */
  private version = 0;
  private viewCache: { version: number; json: string } | null = null;
  readonly scanPath: string;
  readonly thresholds: TierThresholds;
  readonly portRange: [number, number];
  private readonly scanSeconds: Histogram;
  /** Emits after every change of the model set or of an override. */
  readonly changes$ = new Subject<void>();

  constructor(
    private readonly store: RegistryStore,
    private readonly files: FileStore,
    @Inject(magiConfig.KEY) config: MagiConfig,
    metrics: MetricsService,
  ) {
    const modelCount: Gauge = metrics.gauge({
      name: 'magi_registry_models',
      help: 'Models in the registry',
      collect: (): void => modelCount.set(Object.keys(this.snapshot.models).length),
    });
    this.scanSeconds = metrics.histogram({
      name: 'magi_registry_scan_duration_seconds',
      help: 'Duration of registry scans',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    });
    this.scanPath = resolve(config.registry.scanPath);
    this.thresholds = config.registry.tierThresholds;
    this.portRange = config.fleet.portRange;
  }

  async onModuleInit(): Promise<void> {
    this.snapshot = await this.store.load();
    await this.rescan();
    this.loaded = true;
  }

  get isLoaded(): boolean {
    return this.loaded;
  }

  get lastScan(): string | null {
    return this.snapshot.lastScan;
  }

  get scanErrors(): ScanError[] {
    return this.snapshot.scanErrors;
  }

  onEnabledChange(listener: EnabledChangeListener): void {
    this.enabledListener = listener;
  }

  /** Every model, in id order, with tiers derived. */
  list(): DiscoveredModel[] {
    return Object.values(this.snapshot.models)
      .sort((a, b) => a.modelId.localeCompare(b.modelId))
      .map((e) => this.derive(e));
  }

  find(modelId: string): DiscoveredModel | undefined {
    const e = Object.prototype.hasOwnProperty.call(this.snapshot.models, modelId)
      ? this.snapshot.models[modelId]
      : undefined;
    return e && this.derive(e);
  }

  get(modelId: string): DiscoveredModel {
    const m = this.find(modelId);
    if (!m) throw new ModelNotFoundError(modelId);
    return m;
  }

  byTier(tier: unknown): DiscoveredModel[] {
    if (!isTier(tier)) throw new InvalidTierError(tier);
    return this.list().filter((m) => m.effectiveTier === tier);
  }

  private derive(e: RegistryEntry): DiscoveredModel {
    const thinking = e.thinkingOverride ?? e.isThinkingModel;
    const assignedTier = assignTier(e.sizeParams, thinking, this.thresholds);
    return { ...e, assignedTier, effectiveTier: e.tierOverride ?? assignedTier };
  }

  /** Rescans the folder; one scan at a time, overrides of models still present kept. */
  rescan(): Promise<RescanResult> {
    const run = this.scanChain.catch(() => undefined).then(() => this.doRescan());
    this.scanChain = run;
    return run;
  }

  private async doRescan(): Promise<RescanResult> {
    const started = Date.now();
    const paths = (await this.files.walk(this.scanPath)).filter((p) => p.toLowerCase().endsWith('.gguf'));
    const previousFiles = this.snapshot.files;
    const files: Record<string, FileRecord> = {};
    const parsed: ParsedFile[] = [];
    let headersRead = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < paths.length) {
        const path = paths[next++];
        const stat = await this.files.stat(path).catch(() => null);
        if (!stat?.isFile) continue;
        let record = previousFiles[path];
        if (!record || record.size !== stat.size || record.mtimeMs !== stat.mtimeMs) {
          headersRead++;
          record = { size: stat.size, mtimeMs: stat.mtimeMs, ...(await readFileInfo(this.files, path)) };
        }
        files[path] = record;
        parsed.push({ path, size: record.size, info: record.info, error: record.error });
      }
    };
    await Promise.all(Array.from({ length: SCAN_CONCURRENCY }, worker));
    const plan = planScan(parsed);

    // Merge synchronously so overrides written while the files were read are kept.
    const before = this.snapshot.models;
    const byPath = new Map(Object.values(before).map((e) => [e.filePath, e]));
    const models: Record<string, RegistryEntry> = {};
    const added: string[] = [];
    const fresh: typeof plan.models = [];
    for (const m of plan.models) {
      const old = byPath.get(m.filePath);
      if (old) models[old.modelId] = this.toEntry(m, old.modelId, old);
      else fresh.push(m);
    }
    for (const m of fresh) {
      const id = this.uniqueId(m.info.idBase, models);
      models[id] = this.toEntry(m, id);
      added.push(id);
    }
    const removed = Object.keys(before).filter((id) => !(id in models));
    this.snapshot = {
      version: 1,
      lastScan: new Date().toISOString(),
      models,
      files,
      scanErrors: plan.errors,
    };
    // Nothing on disk changed: the file already holds this state (all but lastScan), so skip the write.
    const unchanged =
      headersRead === 0 &&
      !added.length &&
      !removed.length &&
      Object.keys(files).length === Object.keys(previousFiles).length;
    if (!unchanged || this.store.needsWrite) await this.persist();
    this.logger.log(
      {
        scanPath: this.scanPath,
        modelsBefore: Object.keys(before).length,
        modelsAfter: Object.keys(models).length,
        added,
        removed,
        headersRead,
        scanErrors: plan.errors.length,
        durationMs: Date.now() - started,
      },
      'Registry rescanned',
    );
    this.scanSeconds.observe((Date.now() - started) / 1000);
    this.changed();
    return {
      modelsFound: Object.keys(models).length,
      modelsAdded: added,
      modelsRemoved: removed,
      timestamp: this.snapshot.lastScan!,
      headersRead,
    };
  }

  private uniqueId(base: string, taken: Record<string, unknown>): string {
    const clean =
      base
        .replace(/[^a-z0-9_]/g, '_')
        .replace(/_+/g, '_')
        .replace(/^_|_$/g, '') || 'model';
    if (!(clean in taken)) return clean;
    for (let i = 2; ; i++) if (!(`${clean}_${i}` in taken)) return `${clean}_${i}`;
  }

  private toEntry(
    m: ReturnType<typeof planScan>['models'][number],
    modelId: string,
    old?: RegistryEntry,
  ): RegistryEntry {
    const i = m.info;
    return {
      modelId,
      filePath: m.filePath,
      filename: basename(m.filePath),
      architecture: i.architecture,
      family: i.family,
      version: i.version,
      sizeLabel: i.sizeLabel,
      parameterCount: m.parameterCount,
      sizeParams: Math.round(m.parameterCount / 1e7) / 100,
      quantization: i.quantization,
      contextLength: i.contextLength,
      isThinkingModel: i.isThinkingModel,
      thinkingOverride: old?.thinkingOverride ?? null,
      tierOverride: old?.tierOverride ?? null,
      port: old?.port ?? null,
      enabled: old?.enabled ?? true,
      fileSizeBytes: m.fileSizeBytes,
      splitFiles: m.splitFiles,
      mmprojPath: m.mmprojPath,
      displayName: i.displayName,
      idBase: i.idBase,
    };
  }

  /**
   * Group commit: a write starts after the previous one; every mutation made before a
   * write starts is in it, and its caller awaits that write.
   */
  private persist(): Promise<void> {
    if (!this.pendingWrite) {
      this.pendingWrite = this.writeChain
        .catch(() => undefined)
        .then(() => {
          this.pendingWrite = null;
          return this.store.save(this.snapshot);
        });
      this.writeChain = this.pendingWrite;
    }
    return this.pendingWrite;
  }

  private changed(): void {
    this.version++;
    this.changes$.next();
  }

  /**
   * The registry route's JSON, serialised once per registry version: with 1,000 models
   * the serialisation, not the lookup, is the cost of that route.
   */
  cachedView(build: (models: DiscoveredModel[]) => unknown): string {
    if (this.viewCache?.version !== this.version) {
      this.viewCache = { version: this.version, json: JSON.stringify(build(this.list())) };
    }
    return this.viewCache.json;
  }

  private entry(modelId: string): RegistryEntry {
    const e = Object.prototype.hasOwnProperty.call(this.snapshot.models, modelId)
      ? this.snapshot.models[modelId]
      : undefined;
    if (!e) throw new ModelNotFoundError(modelId);
    return e;
  }

  /** Sets (or with null clears) the tier override. */
  async setTier(modelId: string, tier: unknown): Promise<{ tier: Tier; override: boolean }> {
    if (tier !== null && !isTier(tier)) throw new InvalidTierError(tier);
    const e = this.entry(modelId);
    e.tierOverride = tier;
    await this.persist();
    this.logger.log({ modelId, tierOverride: tier }, 'Tier override changed');
    this.changed();
    return { tier: this.derive(e).effectiveTier, override: tier !== null };
  }

  /** Sets (or with null clears) the thinking override; reports whether the effective tier moved. */
  async setThinking(
    modelId: string,
    thinking: boolean | null,
  ): Promise<{ thinking: boolean; override: boolean; tierChanged: boolean }> {
    const e = this.entry(modelId);
    const tierBefore = this.derive(e).effectiveTier;
    e.thinkingOverride = thinking;
    const after = this.derive(e);
    await this.persist();
    this.logger.log({ modelId, thinkingOverride: thinking }, 'Thinking override changed');
    this.changed();
    return {
      thinking: thinking ?? e.isThinkingModel,
      override: thinking !== null,
      tierChanged: after.effectiveTier !== tierBefore,
    };
  }

  /** Enables or disables a model; the fleet applies it live when it can. */
  async setEnabled(modelId: string, enabled: boolean): Promise<{ enabled: boolean; restartRequired: boolean }> {
    if (typeof enabled !== 'boolean')
      throw new ValidationFailedError('enabled must be a boolean', { fields: { enabled: ['must be a boolean'] } });
    const e = this.entry(modelId);
    e.enabled = enabled;
    await this.persist();
    this.logger.log({ modelId, enabled }, 'Model enabled flag changed');
    this.changed();
    let applied = false;
    if (this.enabledListener) {
      applied = await this.enabledListener(modelId, enabled).catch((err: Error) => {
        this.logger.warn({ modelId, err: err.message }, 'Fleet could not apply the enabled change live');
        return false;
      });
    }
    return { enabled, restartRequired: !applied };
  }

  /** Remembers the port the fleet gave a model, so it keeps it across restarts. */
  async setPort(modelId: string, port: number | null): Promise<void> {
    const e = this.snapshot.models[modelId];
    if (!e || e.port === port) return;
    e.port = port;
    this.version++;
    await this.persist();
  }

  /** For tests and diagnostics: the error type of a thrown AppError. */
  static isNotFound(e: unknown): boolean {
    return e instanceof AppError && e.status === 404;
  }
}
