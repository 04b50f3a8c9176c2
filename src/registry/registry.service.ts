import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { EventEmitter2, OnEvent } from '@nestjs/event-emitter';
import { basename } from 'node:path';
import { Subject } from 'rxjs';
import { InvalidTierError, ModelNotFoundError, ValidationFailedError } from '../common/errors/app-error';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { FleetEvents, ServerPortAssignedEvent } from '../servers/fleet.events';
import type { MemoryEstimate, MemorySettings } from './memory';
import { MemoryEstimates, MemoryOverrides } from './memory-estimates';
import { RegistryScanner } from './registry-scanner';
import { ModelEnabledChangedEvent, RegistryEvents, RegistryRescannedEvent } from './registry.events';
import { RegistryStore } from './registry.store';
import type { RegistryEntry, RegistrySnapshot, ScanError } from './registry.types';
import type { PlannedModel } from './scan-plan';
import { Tier, isTier } from '../common/vocabulary/tiers';
import { TierThresholds, assignTier } from './tiers';

/** A registry entry with its derived fields, as the API shows it. */
export interface DiscoveredModel extends RegistryEntry {
  assignedTier: Tier;
  effectiveTier: Tier;
  /**
   * What llama-server would allocate for the model with the active profile's server settings;
   * null when its header cannot tell or llama-server would refuse those settings.
   */
  memoryEstimate: MemoryEstimate | null;
}

export interface RescanResult {
  modelsFound: number;
  modelsAdded: string[];
  modelsRemoved: string[];
  timestamp: string;
  /** Headers parsed this scan (unchanged files are not read again). */
  headersRead: number;
}

/**
 * The registry of discovered GGUF models: merges each scan (RegistryScanner) with the
 * overrides, derives tiers, and persists through serialized, group-committed writes (each
 * mutation is acknowledged only after a write that contains it has reached the disk).
 */
@Injectable()
export class RegistryService implements OnModuleInit {
  private readonly logger = new Logger(RegistryService.name);
  private snapshot: RegistrySnapshot = { version: 1, lastScan: null, models: {}, files: {}, scanErrors: [] };
  private loaded = false;
  private scanChain: Promise<unknown> = Promise.resolve();
  private writeChain: Promise<void> = Promise.resolve();
  private pendingWrite: Promise<void> | null = null;
  private revisionValue = 0;
  readonly thresholds: TierThresholds;
  /** Emits after every change of the model set or of an override. */
  readonly changes$ = new Subject<void>();

  constructor(
    private readonly store: RegistryStore,
    private readonly scanner: RegistryScanner,
    private readonly events: EventEmitter2,
    private readonly memory: MemoryEstimates,
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    this.thresholds = config.registry.tierThresholds;
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

  /** Absolute MODEL_SCAN_PATH. */
  get scanPath(): string {
    return this.scanner.root;
  }

  /** Models in the registry. */
  get size(): number {
    return Object.keys(this.snapshot.models).length;
  }

  /** Bumped on every change (ports included), so views derived from the registry can be cached per revision. */
  get revision(): number {
    return this.revisionValue;
  }

  /** Every model, in id order, with tiers and the memory estimate for the active profile derived. */
  list(): DiscoveredModel[] {
    const { settings } = this.memory.active();
    return Object.values(this.snapshot.models)
      .sort((a, b) => a.modelId.localeCompare(b.modelId))
      .map((e) => this.derive(e, settings));
  }

  find(modelId: string): DiscoveredModel | undefined {
    const e = this.lookup(modelId);
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

  /**
   * What `modelId` would need in memory with other settings than the active profile's
   * (those not given stay the profile's). 404 ModelNotFound, 400 InvalidMemorySettings,
   * 422 MemoryEstimateUnavailable.
   */
  memoryEstimate(modelId: string, overrides: MemoryOverrides): MemoryEstimate {
    const e = this.entry(modelId);
    return this.memory.estimateWith({ ...e, memoryFacts: e.memoryFacts ?? null }, overrides);
  }

  private derive(e: RegistryEntry, settings: MemorySettings = this.memory.active().settings): DiscoveredModel {
    const thinking = e.thinkingOverride ?? e.isThinkingModel;
    const assignedTier = assignTier(e.sizeParams, thinking, this.thresholds);
    return {
      ...e,
      assignedTier,
      effectiveTier: e.tierOverride ?? assignedTier,
      memoryEstimate: this.memory.estimate(e.memoryFacts ?? null, settings),
    };
  }

  /** Rescans the folder; one scan at a time, overrides of models still present kept. */
  rescan(): Promise<RescanResult> {
    const run = this.scanChain.catch(() => undefined).then(() => this.doRescan());
    this.scanChain = run;
    return run;
  }

  private async doRescan(): Promise<RescanResult> {
    const started = Date.now();
    const previousFiles = this.snapshot.files;
    const { files, plan, headersRead } = await this.scanner.scan(previousFiles);

    // Merge synchronously so overrides written while the files were read are kept.
    const before = this.snapshot.models;
    const byPath = new Map(Object.values(before).map((e) => [e.filePath, e]));
    const models: Record<string, RegistryEntry> = {};
    const added: string[] = [];
    const fresh: PlannedModel[] = [];
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
    const durationMs = Date.now() - started;
    this.logger.log(
      {
        scanPath: this.scanPath,
        modelsBefore: Object.keys(before).length,
        modelsAfter: Object.keys(models).length,
        added,
        removed,
        headersRead,
        scanErrors: plan.errors.length,
        durationMs,
      },
      'Registry rescanned',
    );
    this.events.emit(
      RegistryEvents.Rescanned,
      new RegistryRescannedEvent(Object.keys(models).length, added, removed, headersRead, durationMs),
    );
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

  private toEntry(m: PlannedModel, modelId: string, old?: RegistryEntry): RegistryEntry {
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
      memoryFacts: m.memoryFacts,
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
    this.revisionValue++;
    this.changes$.next();
  }

  private lookup(modelId: string): RegistryEntry | undefined {
    return Object.prototype.hasOwnProperty.call(this.snapshot.models, modelId)
      ? this.snapshot.models[modelId]
      : undefined;
  }

  private entry(modelId: string): RegistryEntry {
    const e = this.lookup(modelId);
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

  /**
   * Enables or disables a model, then emits RegistryEvents.ModelEnabledChanged; a restart
   * is required unless a listener (the fleet) answers that it applied the change live.
   */
  async setEnabled(modelId: string, enabled: boolean): Promise<{ enabled: boolean; restartRequired: boolean }> {
    if (typeof enabled !== 'boolean')
      throw new ValidationFailedError('enabled must be a boolean', { fields: { enabled: ['must be a boolean'] } });
    const e = this.entry(modelId);
    e.enabled = enabled;
    await this.persist();
    this.logger.log({ modelId, enabled }, 'Model enabled flag changed');
    this.changed();
    const answers: unknown[] = await this.events
      .emitAsync(RegistryEvents.ModelEnabledChanged, new ModelEnabledChangedEvent(modelId, enabled))
      .catch((err: Error) => {
        this.logger.warn({ modelId, err: err.message }, 'Fleet could not apply the enabled change live');
        return [];
      });
    return { enabled, restartRequired: !answers.includes(true) };
  }

  /** Remembers the port the fleet gave a model, so it keeps it across restarts of MAGI. */
  @OnEvent(FleetEvents.ServerPortAssigned)
  async rememberPort({ modelId, port }: ServerPortAssignedEvent): Promise<void> {
    const e = this.lookup(modelId);
    if (!e || e.port === port) return;
    e.port = port;
    this.revisionValue++;
    await this.persist().catch((err: Error) => {
      this.logger.warn({ modelId, port, err: err.message }, 'Could not remember the port in the registry');
    });
  }
}
