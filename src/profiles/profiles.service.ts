import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { Subject } from 'rxjs';
import { ProfileNotFoundError, ValidationFailedError } from '../common/errors/app-error';
import { PathOutsideRootError } from '../common/io/file-store';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import {
  ActivationResultDto,
  ActiveProfileDto,
  ProfileDeletedDto,
  ProfileDto,
  ProfileWrittenDto,
  toProfileDto,
} from './dto/profile.dto';
import { ProfileActivatedEvent, ProfileEvents } from './profile.events';
import { validateProfile } from './profile-file';
import { deriveProfileKey, profileFileName, profileKeyProblem } from './profile-key';
import type { ActivationSummary, ActiveProfile, ActiveProfileChange, Profile } from './profile.types';
import {
  InvalidProfileFileError,
  InvalidProfileNameError,
  ProfileActiveError,
  ProfileExistsError,
} from './profiles.error';
import { ProfileRead, ProfilesStore } from './profiles.store';

/** The profile active when neither ACTIVE_PROFILE nor the state file names one. */
export const DEFAULT_ACTIVE_PROFILE = 'development';

/**
 * Profiles CRUD and activation (API.md §5). Files are the source of truth and are read on
 * demand, so hand-edits count at once; writes to one key are serialized (a promise chain per
 * key) and atomic; activations are serialized too. The active profile is kept in memory for
 * the gateway's hot path (`getActive()`), refreshed from its file in the background.
 */
@Injectable()
export class ProfilesService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ProfilesService.name);
  /** Emits after an activation and whenever the active profile's content changes. */
  readonly activeChanged$ = new Subject<ActiveProfileChange>();
  private active: ActiveProfile = { key: DEFAULT_ACTIVE_PROFILE, profile: null };
  /** The problem last logged for the active profile (logged once per change, not per read). */
  private activeProblem: string | null = null;
  private readonly keyChains = new Map<string, Promise<unknown>>();
  private activationChain: Promise<unknown> = Promise.resolve();
  private backgroundRefresh: Promise<unknown> | null = null;
  /** Refreshes are numbered so an older read finishing late never overwrites a newer state. */
  private refreshSeq = 0;
  private appliedSeq = 0;
  private closed = false;
  private readonly envActive: string | null;

  constructor(
    private readonly store: ProfilesStore,
    private readonly events: EventEmitter2,
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    this.envActive = config.profiles.activeProfile ?? null;
  }

  async onModuleInit(): Promise<void> {
    const { key, source } = await this.startupKey();
    this.active = { key, profile: null };
    this.logger.log(
      { profile: key, source, profilesPath: this.store.root },
      `Active profile at start-up: '${key}' (${source})`,
    );
    await this.refreshActive(false);
  }

  onModuleDestroy(): void {
    this.closed = true;
    this.activeChanged$.complete();
  }

  /** ACTIVE_PROFILE, else the state file's `activeProfile`, else `development`. */
  private async startupKey(): Promise<{ key: string; source: string }> {
    if (this.envActive) return { key: this.envActive, source: 'ACTIVE_PROFILE' };
    const state = await this.store.readState().catch((e: Error) => ({ state: 'invalid' as const, reason: e.message }));
    if (state.state === 'invalid') {
      this.logger.warn(
        { statePath: this.store.statePath, reason: state.reason },
        'State file is unreadable or corrupt: ignored',
      );
    } else if (state.state === 'ok' && state.value.activeProfile !== undefined) {
      const key = state.value.activeProfile;
      if (typeof key === 'string' && profileKeyProblem(key) === null) return { key, source: 'state file' };
      this.logger.warn(
        { statePath: this.store.statePath, activeProfile: key },
        'State file names no valid profile key: ignored',
      );
    }
    return { key: DEFAULT_ACTIVE_PROFILE, source: 'default' };
  }

  /** Key of the active profile. */
  get activeKey(): string {
    return this.active.key;
  }

  /**
   * The active profile as last read — synchronous and cheap for per-request callers (the
   * gateway). Each call starts a background re-read (at most one at a time; a stat when the
   * file is unchanged), so hand-edits are seen within one such read. Await `readActive()`
   * where the freshest content matters. `profile` is null (and a warning logged once) while the
   * file is missing or invalid. The returned objects are frozen.
   */
  getActive(): ActiveProfile {
    if (!this.backgroundRefresh && !this.closed) {
      this.backgroundRefresh = this.readActive()
        .catch((e: Error) =>
          this.logger.debug(
            { profile: this.active.key, err: e.message },
            'Background read of the active profile failed',
          ),
        )
        .finally(() => {
          this.backgroundRefresh = null;
        });
    }
    return this.active;
  }

  /** Reads the active profile's file now (one stat when unchanged) and returns it; see getActive(). */
  readActive(): Promise<ActiveProfile> {
    return this.refreshActive(true);
  }

  private async refreshActive(emit: boolean): Promise<ActiveProfile> {
    const seq = ++this.refreshSeq;
    const key = this.active.key;
    const problemOfKey = profileKeyProblem(key);
    const read: ProfileRead = problemOfKey
      ? { state: 'invalid', reason: `'${key}' is not a profile key: it ${problemOfKey}` }
      : await this.store.read(key);
    const next: ActiveProfile = { key, profile: read.state === 'ok' ? read.profile : null };
    if (seq > this.appliedSeq && this.active.key === key && !this.closed) {
      this.appliedSeq = seq;
      const previous = this.active.profile;
      this.active = next;
      this.reportActiveProblem(key, read);
      if (emit && !sameProfile(previous, next.profile)) this.activeChanged$.next({ ...next, cause: 'updated' });
    }
    return next;
  }

  private reportActiveProblem(key: string, read: ProfileRead): void {
    const problem = read.state === 'missing' ? 'missing' : read.state === 'invalid' ? read.reason : null;
    if (problem === this.activeProblem) return;
    this.activeProblem = problem;
    const file = profileFileName(key);
    if (read.state === 'missing') {
      this.logger.warn(
        { profile: key, file, profilesPath: this.store.root },
        `Active profile '${key}' not found (${file}): the fleet runs no models`,
      );
    } else if (read.state === 'invalid') {
      this.logger.warn(
        { profile: key, file, reason: read.reason },
        `Active profile '${key}' is invalid: the fleet runs no models`,
      );
    } else {
      this.logger.log({ profile: key, file }, `Active profile '${key}' is readable again`);
    }
  }

  /** Keys of the profiles in PROFILES_PATH, sorted (invalid files included: their GET says why). */
  list(): Promise<string[]> {
    return this.store.listKeys();
  }

  /** One profile; 400 InvalidProfileName, 404 ProfileNotFound, 422 InvalidProfileFile. */
  async get(key: string): Promise<Profile> {
    this.assertKey(key);
    return this.existingProfile(key, await this.read(key));
  }

  /** `GET …/active`: the active key and its content (a fresh read). */
  async activeView(): Promise<ActiveProfileDto> {
    const { key, profile } = await this.readActive();
    return { activeProfile: key, profile: profile && toProfileDto(profile) };
  }

  /** Creates a profile whose key is derived from `body.name`; 409 when that key exists. */
  async create(body: ProfileDto): Promise<ProfileWrittenDto> {
    const profile = this.validBody(body);
    const key = deriveProfileKey(profile.name);
    const problem = profileKeyProblem(key);
    if (problem) {
      throw new InvalidProfileNameError(profile.name, `the key derived from it ('${key}') ${problem}`, {
        derivedKey: key,
      });
    }
    const path = profileFileName(key);
    await this.serialize(key, async () => {
      if (await this.store.exists(key)) throw new ProfileExistsError(key, path);
      await this.store.write(key, profile);
    });
    this.logger.log({ profile: key, file: path }, `Profile '${key}' created`);
    return { message: `Profile '${profile.name}' created`, profileName: key, path };
  }

  /** Replaces an existing profile; the key stays even when `name` changes. */
  async replace(key: string, body: ProfileDto): Promise<ProfileWrittenDto> {
    this.assertKey(key);
    const profile = this.validBody(body);
    await this.serialize(key, async () => {
      if (!(await this.store.exists(key))) throw new ProfileNotFoundError(key);
      await this.store.write(key, profile);
    });
    this.logger.log({ profile: key, file: profileFileName(key) }, `Profile '${key}' replaced`);
    if (key === this.active.key) await this.readActive();
    return { message: `Profile '${key}' replaced`, profileName: key, path: profileFileName(key) };
  }

  /** Deletes a profile; 409 ProfileActive for the active one. */
  async remove(key: string): Promise<ProfileDeletedDto> {
    this.assertKey(key);
    await this.serialize(key, async () => {
      if (!(await this.store.exists(key))) throw new ProfileNotFoundError(key);
      if (key === this.active.key) throw new ProfileActiveError(key);
      if (!(await this.store.remove(key))) throw new ProfileNotFoundError(key);
    });
    this.logger.log({ profile: key, file: profileFileName(key) }, `Profile '${key}' deleted`);
    return { message: `Profile '${key}' deleted`, profileName: key };
  }

  /**
   * Makes `key` the active profile: persisted in STATE_PATH first, then ProfileEvents.Activated
   * is emitted and the summary its listener answers (the fleet's reconcile) returned; without
   * one the summary is empty. Serialized, so concurrent activations apply one after the other.
   */
  activate(key: string): Promise<ActivationResultDto> {
    this.assertKey(key);
    const run = this.activationChain.catch(() => undefined).then(() => this.doActivate(key));
    this.activationChain = run;
    return run;
  }

  private async doActivate(key: string): Promise<ActivationResultDto> {
    const previous = this.active.key;
    const profile = await this.serialize(key, async () => {
      const found = this.existingProfile(key, await this.read(key));
      await this.store.writeState({ activeProfile: key });
      this.appliedSeq = ++this.refreshSeq;
      this.active = { key, profile: found };
      this.activeProblem = null;
      return found;
    });
    this.logger.log({ profile: key, previous }, `Profile '${key}' activated`);
    const answers: unknown[] = await this.events.emitAsync(
      ProfileEvents.Activated,
      new ProfileActivatedEvent(key, profile),
    );
    const summary = (answers.find((a) => a !== undefined) as ActivationSummary | undefined) ?? {
      started: [],
      stopped: [],
      kept: [],
    };
    if (!this.closed) this.activeChanged$.next({ key, profile, cause: 'activated' });
    return {
      message: `Profile '${key}' activated`,
      activeProfile: key,
      started: [...summary.started],
      stopped: [...summary.stopped],
      kept: [...summary.kept],
    };
  }

  private assertKey(key: string): void {
    const problem = profileKeyProblem(key);
    if (problem) throw new InvalidProfileNameError(key, `a profile name in a path must be a key: it ${problem}`);
  }

  /** Reads through the store; a path that would leave the folder is a bad name (defence in depth). */
  private async read(key: string): Promise<ProfileRead> {
    try {
      return await this.store.read(key);
    } catch (e) {
      if (e instanceof PathOutsideRootError)
        throw new InvalidProfileNameError(key, 'it would leave the profiles folder');
      throw e;
    }
  }

  private existingProfile(key: string, read: ProfileRead): Profile {
    if (read.state === 'missing') throw new ProfileNotFoundError(key);
    if (read.state === 'invalid')
      throw new InvalidProfileFileError(key, profileFileName(key), read.reason, read.fields);
    return read.profile;
  }

  /** Bodies come validated by the global pipe; this re-check keeps every file we write valid whoever calls. */
  private validBody(body: ProfileDto): Profile {
    const result = validateProfile(body);
    if (!result.ok)
      throw new ValidationFailedError(`Invalid profile: ${result.reason}`, { fields: result.fields ?? {} });
    return result.profile;
  }

  /** Runs `fn` after every earlier write of the same key has settled. */
  private serialize<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.keyChains.get(key) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(fn);
    const tail = run.catch(() => undefined);
    this.keyChains.set(key, tail);
    void tail.then(() => {
      if (this.keyChains.get(key) === tail) this.keyChains.delete(key);
    });
    return run;
  }
}

function sameProfile(a: Profile | null, b: Profile | null): boolean {
  return a === b || (!!a && !!b && JSON.stringify(a) === JSON.stringify(b));
}
