/**
 * Events the registry emits (through `@nestjs/event-emitter`). Names and payloads live here
 * so a listener in another module imports this file only, never the registry's services.
 */
export const RegistryEvents = {
  /**
   * A model's `enabled` flag was changed and persisted. Emitted with `emitAsync`: a listener
   * answers `true` when it applied the change live (the fleet does), so the route can say
   * whether a restart is required.
   */
  ModelEnabledChanged: 'registry.model.enabled-changed',
  /** A rescan finished (the registry's metrics time scans with it). */
  Rescanned: 'registry.rescanned',
} as const;

/** Payload of `RegistryEvents.ModelEnabledChanged`. */
export class ModelEnabledChangedEvent {
  constructor(
    readonly modelId: string,
    readonly enabled: boolean,
  ) {}
}

/** Payload of `RegistryEvents.Rescanned`. */
export class RegistryRescannedEvent {
  constructor(
    readonly modelsFound: number,
    readonly added: readonly string[],
    readonly removed: readonly string[],
    /** Headers parsed this scan (unchanged files are not read again). */
    readonly headersRead: number,
    /** From the start of the folder walk to the persisted result. */
    readonly durationMs: number,
  ) {}
}
