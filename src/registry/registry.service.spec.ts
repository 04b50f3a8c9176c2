import { Injectable } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeGgufFile } from '../../test/support/gguf-writer';
import { IoModule } from '../common/io/io.module';
import { loadMagiConfig } from '../config/load-config';
import { configModuleFor } from '../config/magi-config.provider';
import { ProfilesModule } from '../profiles/profiles.module';
import { FleetEvents, ServerPortAssignedEvent } from '../servers/fleet.events';
import { MemoryEstimates } from './memory-estimates';
import { RegistryScanner } from './registry-scanner';
import { ModelEnabledChangedEvent, RegistryEvents, RegistryRescannedEvent } from './registry.events';
import { RegistryService } from './registry.service';
import { RegistryStore } from './registry.store';

/** Listens where the fleet listens: its answer to ModelEnabledChanged says whether the change was applied live. */
@Injectable()
class EnabledListenerStandIn {
  answer: ((event: ModelEnabledChangedEvent) => Promise<boolean>) | null = null;
  readonly seen: ModelEnabledChangedEvent[] = [];

  @OnEvent(RegistryEvents.ModelEnabledChanged, { suppressErrors: false })
  onEnabledChanged(event: ModelEnabledChangedEvent): Promise<boolean> | undefined {
    this.seen.push(event);
    return this.answer?.(event);
  }
}

/** The service with the real store, scanner and event emitter on a temp folder holding two models. */
async function makeSut(root: string) {
  const models = join(root, 'models');
  mkdirSync(models, { recursive: true });
  await writeGgufFile(join(models, 'Alpha-1B-Q4_K_M.gguf'), {
    name: 'Alpha',
    sizeLabel: '1B',
    fileType: 15,
    parameterCount: 1_000_000,
    vocabSize: 0,
  });
  await writeGgufFile(join(models, 'Bravo-1B-Q4_K_M.gguf'), {
    name: 'Bravo',
    sizeLabel: '1B',
    fileType: 15,
    parameterCount: 1_000_000,
    vocabSize: 0,
  });
  const config = loadMagiConfig({
    LOG_LEVEL: 'silent',
    MODEL_SCAN_PATH: models,
    REGISTRY_PATH: join(root, 'registry.json'),
    PROFILES_PATH: join(root, 'profiles'),
    STATE_PATH: join(root, 'state.json'),
  });
  const moduleRef = await Test.createTestingModule({
    imports: [await configModuleFor(config), EventEmitterModule.forRoot(), IoModule, ProfilesModule],
    providers: [RegistryService, RegistryStore, RegistryScanner, MemoryEstimates, EnabledListenerStandIn],
  }).compile();
  moduleRef.useLogger(false);
  const events = moduleRef.get(EventEmitter2);
  const rescans: RegistryRescannedEvent[] = [];
  events.on(RegistryEvents.Rescanned, (e: RegistryRescannedEvent) => rescans.push(e));
  await moduleRef.init();
  const sut = moduleRef.get(RegistryService);
  return {
    sut,
    events,
    rescans,
    listener: moduleRef.get(EnabledListenerStandIn),
    ids: sut.list().map((m) => m.modelId),
    onDisk: () =>
      JSON.parse(readFileSync(join(root, 'registry.json'), 'utf8')) as {
        models: Record<string, { port: number | null; enabled: boolean }>;
      },
    close: () => moduleRef.close(),
  };
}

describe('RegistryService', () => {
  let root: string;
  let t: Awaited<ReturnType<typeof makeSut>>;

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'magi-registry-svc-'));
    t = await makeSut(root);
  });
  afterEach(async () => {
    await t.close();
    rmSync(root, { recursive: true, force: true });
  });

  describe('rescan', () => {
    it('emits RegistryEvents.Rescanned with the counts of each scan, the first one at start-up', async () => {
      expect(t.rescans).toEqual([
        expect.objectContaining({ modelsFound: 2, added: t.ids, removed: [], headersRead: 2 }),
      ]);
      await t.sut.rescan();
      expect(t.rescans[1]).toEqual(expect.objectContaining({ modelsFound: 2, added: [], removed: [], headersRead: 0 }));
      expect(t.rescans[1].durationMs).toEqual(expect.any(Number));
    });
  });

  describe('setEnabled', () => {
    it('persists the flag, then emits ModelEnabledChanged; no restart is required once a listener applied it', async () => {
      const [a] = t.ids;
      t.listener.answer = () => {
        expect(t.onDisk().models[a].enabled).toBe(false);
        return Promise.resolve(true);
      };
      expect(await t.sut.setEnabled(a, false)).toEqual({ enabled: false, restartRequired: false });
      expect(t.listener.seen).toEqual([new ModelEnabledChangedEvent(a, false)]);
      expect(t.sut.get(a).enabled).toBe(false);
    });

    it('requires a restart when no listener answers that it applied the change', async () => {
      expect(await t.sut.setEnabled(t.ids[0], false)).toEqual({ enabled: false, restartRequired: true });
      t.listener.answer = () => Promise.resolve(false);
      expect(await t.sut.setEnabled(t.ids[0], true)).toEqual({ enabled: true, restartRequired: true });
    });

    it('requires a restart, and still answers, when the listener fails', async () => {
      t.listener.answer = () => Promise.reject(new Error('fleet is shutting down'));
      expect(await t.sut.setEnabled(t.ids[0], false)).toEqual({ enabled: false, restartRequired: true });
      expect(t.onDisk().models[t.ids[0]].enabled).toBe(false);
    });
  });

  describe('rememberPort (FleetEvents.ServerPortAssigned)', () => {
    it('keeps the port the fleet announced for a model, on disk too', async () => {
      const [a, b] = t.ids;
      await t.events.emitAsync(FleetEvents.ServerPortAssigned, new ServerPortAssignedEvent(a, 8123));
      expect(t.sut.get(a).port).toBe(8123);
      expect(t.sut.get(b).port).toBeNull();
      expect(t.onDisk().models[a].port).toBe(8123);
    });

    it('ignores a port announced for a model the registry does not know', async () => {
      const revision = t.sut.revision;
      await t.events.emitAsync(FleetEvents.ServerPortAssigned, new ServerPortAssignedEvent('nope', 8123));
      expect(t.sut.find('nope')).toBeUndefined();
      expect(t.sut.revision).toBe(revision);
    });
  });
});
