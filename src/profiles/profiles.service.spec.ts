import { Injectable } from '@nestjs/common';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, take, toArray } from 'rxjs';
import { FileStore, NodeFileStore } from '../common/io/file-store';
import { loadMagiConfig } from '../config/load-config';
import { configModuleFor } from '../config/magi-config.provider';
import { ProfileDto } from './dto/profile.dto';
import { ProfileActivatedEvent, ProfileEvents } from './profile.events';
import type { ActivationSummary, ActiveProfileChange, Profile } from './profile.types';
import { ProfilesService } from './profiles.service';
import { ProfilesStore } from './profiles.store';

/** Listens where the fleet listens: its answer to ProfileEvents.Activated is the activation's summary. */
@Injectable()
class ActivationListenerStandIn {
  answer: ((event: ProfileActivatedEvent) => Promise<ActivationSummary>) | null = null;

  @OnEvent(ProfileEvents.Activated, { suppressErrors: false })
  onActivated(event: ProfileActivatedEvent): Promise<ActivationSummary> | undefined {
    return this.answer?.(event);
  }
}

/** The service wired with the real FileStore on a temp folder and the real event emitter (no HTTP). */
async function makeSut(root: string, env: Record<string, string> = {}) {
  const config = loadMagiConfig({
    LOG_LEVEL: 'silent',
    PROFILES_PATH: join(root, 'profiles'),
    STATE_PATH: join(root, 'state.json'),
    MODEL_SCAN_PATH: join(root, 'models'),
    REGISTRY_PATH: join(root, 'registry.json'),
    ...env,
  });
  const moduleRef = await Test.createTestingModule({
    imports: [await configModuleFor(config), EventEmitterModule.forRoot()],
    providers: [
      ProfilesService,
      ProfilesStore,
      { provide: FileStore, useClass: NodeFileStore },
      ActivationListenerStandIn,
    ],
  }).compile();
  moduleRef.useLogger(false);
  await moduleRef.init();
  return {
    sut: moduleRef.get(ProfilesService),
    listener: moduleRef.get(ActivationListenerStandIn),
    close: () => moduleRef.close(),
  };
}

const body = (name: string, enabledModels: string[] = []): ProfileDto => ({ name, enabledModels });

describe('ProfilesService', () => {
  let root: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'magi-profiles-svc-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const writeProfile = (key: string, text: string): void => writeFileSync(join(root, 'profiles', `${key}.yaml`), text);

  describe('activate', () => {
    it('answers empty arrays when no listener answers ProfileEvents.Activated', async () => {
      const { sut, close } = await makeSut(root);
      try {
        await sut.create(body('Dev'));
        expect(await sut.activate('dev')).toEqual({
          message: "Profile 'dev' activated",
          activeProfile: 'dev',
          started: [],
          stopped: [],
          kept: [],
        });
      } finally {
        await close();
      }
    });

    it('persists first, then emits ProfileEvents.Activated and answers its summary, then emits activeChanged$', async () => {
      const { sut, listener, close } = await makeSut(root);
      try {
        await sut.create(body('Prod', ['a_*']));
        const events: string[] = [];
        sut.activeChanged$.subscribe((c) => events.push(`changed:${c.cause}:${c.key}`));
        listener.answer = async ({ key, profile }) => {
          const state = JSON.parse(readFileSync(join(root, 'state.json'), 'utf8'));
          events.push(
            `listener:${key}:${profile.enabledModels.join(',')}:state=${state.activeProfile}:active=${sut.activeKey}`,
          );
          return { started: ['a_1'], stopped: ['b_1'], kept: ['c_1'] };
        };
        const result = await sut.activate('prod');
        expect(result).toEqual(
          expect.objectContaining({ activeProfile: 'prod', started: ['a_1'], stopped: ['b_1'], kept: ['c_1'] }),
        );
        expect(events).toEqual(['listener:prod:a_*:state=prod:active=prod', 'changed:activated:prod']);
        expect(sut.getActive()).toEqual({ key: 'prod', profile: { name: 'Prod', enabledModels: ['a_*'] } });
      } finally {
        await close();
      }
    });

    it('runs concurrent activations one after the other, the last one winning', async () => {
      const { sut, listener, close } = await makeSut(root);
      try {
        for (const n of ['One', 'Two', 'Three']) await sut.create(body(n));
        let inFlight = 0;
        let maxInFlight = 0;
        const order: string[] = [];
        listener.answer = async ({ key }) => {
          maxInFlight = Math.max(maxInFlight, ++inFlight);
          await new Promise((r) => setImmediate(r));
          order.push(key);
          inFlight--;
          return { started: [], stopped: [], kept: [] };
        };
        await Promise.all(['one', 'two', 'three', 'one', 'three'].map((k) => sut.activate(k)));
        expect(maxInFlight).toBe(1);
        expect(order).toEqual(['one', 'two', 'three', 'one', 'three']);
        expect(sut.activeKey).toBe('three');
        expect(JSON.parse(readFileSync(join(root, 'state.json'), 'utf8'))).toEqual({ activeProfile: 'three' });
      } finally {
        await close();
      }
    });

    it('fails the activation when the listener fails, the profile staying persisted as active', async () => {
      const { sut, listener, close } = await makeSut(root);
      try {
        await sut.create(body('Dev'));
        listener.answer = () => Promise.reject(new Error('reconcile failed'));
        await expect(sut.activate('dev')).rejects.toThrow('reconcile failed');
        expect(sut.activeKey).toBe('dev');
        expect(JSON.parse(readFileSync(join(root, 'state.json'), 'utf8'))).toEqual({ activeProfile: 'dev' });
      } finally {
        await close();
      }
    });

    it('keeps other keys of the state file', async () => {
      writeFileSync(join(root, 'state.json'), JSON.stringify({ somethingElse: 42 }));
      const { sut, close } = await makeSut(root);
      try {
        await sut.create(body('Dev'));
        await sut.activate('dev');
        expect(JSON.parse(readFileSync(join(root, 'state.json'), 'utf8'))).toEqual({
          somethingElse: 42,
          activeProfile: 'dev',
        });
      } finally {
        await close();
      }
    });
  });

  describe('getActive / readActive', () => {
    it('is null (no crash) while the active profile is missing, and sees it once written by hand', async () => {
      const { sut, close } = await makeSut(root);
      try {
        expect(sut.getActive()).toEqual({ key: 'development', profile: null });
        await sut.create(body('Other'));
        writeProfile('development', 'name: Dev\nenabledModels: [x]\n');
        const changed = firstValueFrom(sut.activeChanged$);
        expect(await sut.readActive()).toEqual({ key: 'development', profile: { name: 'Dev', enabledModels: ['x'] } });
        expect(await changed).toEqual({
          key: 'development',
          profile: { name: 'Dev', enabledModels: ['x'] },
          cause: 'updated',
        });
        expect(sut.getActive().profile).toEqual({ name: 'Dev', enabledModels: ['x'] });
      } finally {
        await close();
      }
    });

    it('refreshes in the background on getActive() and reuses the parsed file while it is unchanged', async () => {
      const { sut, close } = await makeSut(root);
      try {
        await sut.create(body('development', ['a']));
        await sut.readActive();
        const first = sut.getActive().profile;
        expect((await sut.readActive()).profile).toBe(first);
        const updates: ActiveProfileChange[] = [];
        sut.activeChanged$.subscribe((c) => updates.push(c));
        writeProfile('development', 'name: development\nenabledModels: [b]\n');
        let seen = false;
        const next = firstValueFrom(sut.activeChanged$).then((c) => ((seen = true), c));
        // Each getActive() starts a background read when none is running; one of them notices the edit.
        for (let i = 0; i < 1000 && !seen; i++) {
          sut.getActive();
          await new Promise((r) => setTimeout(r, 1));
        }
        expect((await next).profile?.enabledModels).toEqual(['b']);
        expect(sut.getActive().profile?.enabledModels).toEqual(['b']);
        expect(updates.map((u) => u.cause)).toEqual(['updated']);
      } finally {
        await close();
      }
    });

    it('hands out frozen profiles, so no caller can change what others see', async () => {
      const { sut, close } = await makeSut(root);
      try {
        await sut.create(body('development', ['a']));
        const { profile } = await sut.readActive();
        expect(() => (profile as Profile).enabledModels.push('b')).toThrow(TypeError);
        expect((await sut.get('development')).enabledModels).toEqual(['a']);
      } finally {
        await close();
      }
    });

    it('emits updated when the active profile is replaced, and not for other profiles', async () => {
      const { sut, close } = await makeSut(root);
      try {
        await sut.create(body('development', ['a']));
        await sut.create(body('Other'));
        await sut.readActive();
        const two = firstValueFrom(sut.activeChanged$.pipe(take(1), toArray()));
        await sut.replace('other', body('Other', ['z']));
        await sut.replace('development', body('Development', ['b']));
        expect((await two).map((c) => [c.cause, c.key, c.profile?.enabledModels])).toEqual([
          ['updated', 'development', ['b']],
        ]);
      } finally {
        await close();
      }
    });
  });

  describe('start-up', () => {
    it('uses ACTIVE_PROFILE, else the state file, else development', async () => {
      writeFileSync(join(root, 'state.json'), JSON.stringify({ activeProfile: 'from-state' }));
      let app = await makeSut(root, { ACTIVE_PROFILE: 'from-env' });
      expect(app.sut.activeKey).toBe('from-env');
      await app.close();
      app = await makeSut(root);
      expect(app.sut.activeKey).toBe('from-state');
      await app.close();
      writeFileSync(join(root, 'state.json'), JSON.stringify({ activeProfile: '../../etc/passwd' }));
      app = await makeSut(root);
      expect(app.sut.activeKey).toBe('development');
      await app.close();
      writeFileSync(join(root, 'state.json'), '[1, 2');
      app = await makeSut(root);
      expect(app.sut.activeKey).toBe('development');
      await app.close();
    });

    it('does not read outside the folder for a hostile ACTIVE_PROFILE', async () => {
      writeFileSync(join(root, 'x.yaml'), 'name: outside\nenabledModels: [secret]\n');
      const { sut, close } = await makeSut(root, { ACTIVE_PROFILE: '../x' });
      try {
        expect(await sut.readActive()).toEqual({ key: '../x', profile: null });
      } finally {
        await close();
      }
    });
  });
});
