import { EventEmitter2, EventEmitterModule } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeGgufFile } from '../../test/support/gguf-writer';
import { FileStore, NodeFileStore } from '../common/io/file-store';
import { loadMagiConfig } from '../config/load-config';
import { configModuleFor } from '../config/magi-config.provider';
import { FleetEvents, ServerPortAssignedEvent } from '../servers/fleet.events';
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
      PORT_RANGE: '9100-9109',
    });
    const moduleRef = await Test.createTestingModule({
      imports: [await configModuleFor(config), EventEmitterModule.forRoot()],
      providers: [
        RegistryView,
        RegistryService,
        RegistryStore,
        RegistryScanner,
        { provide: FileStore, useClass: NodeFileStore },
      ],
    }).compile();
    moduleRef.useLogger(false);
    await moduleRef.init();
    sut = moduleRef.get(RegistryView);
    registry = moduleRef.get(RegistryService);
    events = moduleRef.get(EventEmitter2);
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
  });
});
