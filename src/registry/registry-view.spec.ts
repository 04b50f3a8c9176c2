import { EventEmitter2, EventEmitterModule } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GgmlType, writeGgufFile } from '../../test/support/gguf-writer';
import { GgufType } from './gguf/gguf-reader';
import { IoModule } from '../common/io/io.module';
import { loadMagiConfig } from '../config/load-config';
import { configModuleFor } from '../config/magi-config.provider';
import { ProfilesModule } from '../profiles/profiles.module';
import { ProfilesService } from '../profiles/profiles.service';
import { FleetEvents, ServerPortAssignedEvent } from '../servers/fleet.events';
import { MemoryEstimates } from './memory-estimates';
import { RegistryScanner } from './registry-scanner';
import { RegistryView } from './registry-view';
import { RegistryService } from './registry.service';
import { RegistryStore } from './registry.store';

describe('RegistryView', () => {
  let root: string;
  let close: () => Promise<void>;
  let sut: RegistryView;
  let registry: RegistryService;
  let events: EventEmitter2;
  let profiles: ProfilesService;
  let models: string;

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'magi-registry-view-'));
    models = join(root, 'models');
    mkdirSync(models);
    await writeGgufFile(join(models, 'Alpha-1B-Q4_K_M.gguf'), {
      name: 'Alpha',
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
      PORT_RANGE: '9100-9109',
    });
    const moduleRef = await Test.createTestingModule({
      imports: [await configModuleFor(config), EventEmitterModule.forRoot(), IoModule, ProfilesModule],
      providers: [RegistryView, RegistryService, RegistryStore, RegistryScanner, MemoryEstimates],
    }).compile();
    moduleRef.useLogger(false);
    await moduleRef.init();
    sut = moduleRef.get(RegistryView);
    registry = moduleRef.get(RegistryService);
    events = moduleRef.get(EventEmitter2);
    profiles = moduleRef.get(ProfilesService);
    close = () => moduleRef.close();
  });
  afterEach(async () => {
    await close();
    rmSync(root, { recursive: true, force: true });
  });

  describe('json', () => {
    it('answers the whole registry with the scan settings and the fleet’s port range', () => {
      const [m] = registry.list();
      expect(JSON.parse(sut.json())).toEqual({
        models: { [m.modelId]: expect.objectContaining({ modelId: m.modelId, displayName: 'Alpha', port: null }) },
        scanPath: models,
        lastScan: registry.lastScan,
        portRange: [9100, 9109],
        tierThresholds: registry.thresholds,
        scanErrors: [],
      });
    });

    it('answers the registry as it is after each change, a remembered port included', async () => {
      const first = sut.json();
      expect(sut.json()).toBe(first);
      const [m] = registry.list();
      await registry.setTier(m.modelId, 'powerful');
      const afterTier = sut.json();
      expect(afterTier).not.toBe(first);
      expect(JSON.parse(afterTier).models[m.modelId].tierOverride).toBe('powerful');
      await events.emitAsync(FleetEvents.ServerPortAssigned, new ServerPortAssignedEvent(m.modelId, 9101));
      expect(JSON.parse(sut.json()).models[m.modelId].port).toBe(9101);
    });

    it('answers again with the estimates for the settings of each newly active profile', async () => {
      // Llama-like: 2 layers with a K and V of 256 per cell; f16 caches are 2 × 2 × 256 × 2 bytes per cell.
      await writeGgufFile(join(models, 'Kv-1B-Q4_K_M.gguf'), {
        architecture: 'llama',
        name: 'Kv',
        sizeLabel: '1B',
        fileType: 15,
        contextLength: 4096,
        vocabSize: 1000,
        extra: [
          { key: 'llama.block_count', type: GgufType.UINT32, value: 2 },
          { key: 'llama.embedding_length', type: GgufType.UINT32, value: 256 },
          { key: 'llama.attention.head_count', type: GgufType.UINT32, value: 4 },
        ],
        tensors: [{ name: 'token_embd.weight', dims: [256, 1000], type: GgmlType.F16 }],
      });
      await registry.rescan();
      const id = registry.list().find((m) => m.displayName === 'Kv')!.modelId;
      const kv = () => JSON.parse(sut.json()).models[id].memoryEstimate;
      // No profile file: llama-server's defaults, 4 slots of the training context.
      expect(kv()).toMatchObject({ ctxSize: 4 * 4096, parallel: 4, kvCacheBytes: 4 * 4096 * 2048 });

      await profiles.create({ name: 'small', enabledModels: [], server: { ctxSize: 2048, parallel: 1 } });
      await profiles.create({ name: 'wide', enabledModels: [], server: { ctxSize: 8192, parallel: 2 } });
      await profiles.activate('small');
      expect(kv()).toMatchObject({ ctxSize: 2048, parallel: 1, kvCacheBytes: 2048 * 2048 });
      await profiles.activate('wide');
      expect(kv()).toMatchObject({ ctxSize: 8192, parallel: 2, kvCacheBytes: 8192 * 2048 });
    });
  });
});
