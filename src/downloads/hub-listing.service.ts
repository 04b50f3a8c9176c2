import { Injectable, Logger } from '@nestjs/common';
import { FleetService } from '../servers/fleet.service';
import { ProfilesService } from '../profiles/profiles.service';
import { deriveModelInfo } from '../registry/gguf/model-info';
import { GgufHeader, parseGgufHeader } from '../registry/gguf/gguf-reader';
import {
  estimateMemory,
  MEMORY_PARSE_OPTIONS,
  MemorySettings,
  ModelMemoryFacts,
  memorySettingsOf,
  modelMemoryFacts,
} from '../registry/memory';
import { toMemoryEstimateDto } from '../registry/dto/model.dto';
import { HubFileDto, HubListingDto } from './dto/hub.dto';
import { HubUnauthorizedError, HubUnavailableError, InvalidRepoNameError } from './downloads.error';
import { HubClient } from './hub-client';
import { groupGgufFiles, HubGgufGroup, HubTreeEntry } from './hub-files';
import { HubTransportError } from './hub-http';
import { RangedByteSource, REMOTE_CHUNK_BYTES } from './ranged-byte-source';
import { checkRepo, repoFilePathProblem, RepoId, repoIdText, revisionProblem } from './repo-path';

/** What a group's remote headers told. */
interface GroupFacts {
  quantization: string | null;
  isProjector: boolean;
  facts: ModelMemoryFacts | null;
  error: string | null;
}

/** Headers read at once while listing a repository. */
const LISTING_CONCURRENCY = 4;
/** Header facts kept per (repository, commit, file): a commit never changes. */
const FACTS_CACHE = 500;
const COMMIT = /^[0-9a-f]{40}$/;

/** Maps a failure to reach the hub to its error answer (503); hub answers are already AppErrors. */
export function hubReachError(e: unknown, endpoint: string): unknown {
  if (e instanceof HubTransportError) {
    return new HubUnavailableError(`The hub at ${endpoint} cannot be reached: ${e.message}`, { code: e.code }, 503);
  }
  return e;
}

/** Runs `fn` over `items`, at most `limit` at once, results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * `GET /api/models/hub/{owner}/{repo}`: a hub repository's GGUF files with what each would
 * cost in memory, read from its header on the hub with a few Range requests (the project's
 * GGUF reader over RangedByteSource), estimated at the active profile's settings, and
 * whether that fits the memory budget.
 */
@Injectable()
export class HubListingService {
  private readonly logger = new Logger(HubListingService.name);
  private readonly cache = new Map<string, GroupFacts>();

  constructor(
    private readonly hub: HubClient,
    private readonly profiles: ProfilesService,
    private readonly fleet: FleetService,
  ) {}

  /** The repository's GGUF files at `revision`, each with its remote memory estimate and `fits`. */
  async list(owner: string, name: string, revision = 'main'): Promise<HubListingDto> {
    const { repo, problems } = checkRepo(owner, name);
    const revProblem = revisionProblem(revision);
    if (!repo || revProblem) {
      throw new InvalidRepoNameError([
        ...problems.map((p) => ({ ...p, value: p.field === 'owner' ? owner : name })),
        ...(revProblem ? [{ field: 'revision', reason: revProblem, value: revision }] : []),
      ]);
    }
    try {
      const groups = this.safeGroups(repo, await this.hub.listTree(repo, revision));
      const commit = groups.length ? await this.commitOf(repo, revision, groups[0].files[0].path) : null;
      const settings = memorySettingsOf(this.profiles.getActive().profile?.server);
      // What is free now: the budget minus what the running servers count for.
      const { budgetBytes, freeBytes } = this.fleet.memory();
      const facts = await mapLimit(groups, LISTING_CONCURRENCY, (g) => this.groupFacts(repo, commit ?? revision, g));
      return {
        repo: repoIdText(repo),
        revision,
        commit,
        budgetBytes,
        freeBytes,
        files: groups.map((g, i) => this.fileDto(g, facts[i], settings, freeBytes)),
      };
    } catch (e) {
      throw hubReachError(e, this.hub.endpoint);
    }
  }

  /** GGUF groups whose every path is one MAGI could write; a hostile listing's others are left out. */
  private safeGroups(repo: RepoId, entries: HubTreeEntry[]): HubGgufGroup[] {
    return groupGgufFiles(entries).filter((g) => {
      const bad = g.files.find((f) => repoFilePathProblem(f.path));
      if (bad) {
        this.logger.warn(
          { repo: repoIdText(repo), path: JSON.stringify(bad.path).slice(0, 200) },
          'The hub listed a file path MAGI will not write: left out',
        );
      }
      return !bad;
    });
  }

  private async commitOf(repo: RepoId, revision: string, path: string): Promise<string | null> {
    if (COMMIT.test(revision)) return revision;
    return (await this.hub.fileMeta(repo, revision, path)).commit;
  }

  private fileDto(g: HubGgufGroup, f: GroupFacts, settings: MemorySettings, freeBytes: number | null): HubFileDto {
    let memoryEstimate: HubFileDto['memoryEstimate'] = null;
    let headerError = f.error;
    if (f.facts && !f.isProjector) {
      try {
        const estimate = estimateMemory(f.facts, settings);
        memoryEstimate = estimate && toMemoryEstimateDto(estimate);
      } catch (e) {
        headerError = `no estimate at the active profile's settings: ${(e as Error).message}`;
      }
    }
    return {
      path: g.path,
      sizeBytes: g.sizeBytes,
      sha256: g.files[0].sha256,
      quantization: f.quantization,
      shards: g.shards,
      isProjector: f.isProjector,
      memoryEstimate,
      fits: memoryEstimate ? freeBytes === null || memoryEstimate.totalBytes <= freeBytes : null,
      headerError,
    };
  }

  /** Reads the group's headers on the hub (every shard: the weights are spread over them). */
  private async groupFacts(repo: RepoId, revision: string, g: HubGgufGroup): Promise<GroupFacts> {
    const key = `${repoIdText(repo)}@${revision}:${g.path}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    let result: GroupFacts;
    try {
      const headers: GgufHeader[] = [];
      for (const file of g.files) {
        const source = new RangedByteSource(file.sizeBytes, this.hub.rangeReader(repo, revision, file.path));
        headers.push(await parseGgufHeader(source, { ...MEMORY_PARSE_OPTIONS, chunkSize: REMOTE_CHUNK_BYTES }));
      }
      const info = deriveModelInfo(headers[0], g.path.slice(g.path.lastIndexOf('/') + 1));
      const isProjector = g.isProjector || info.isProjector;
      result = {
        quantization: info.quantization ?? g.quantization,
        isProjector,
        facts: isProjector ? null : modelMemoryFacts(headers, null),
        error: null,
      };
    } catch (e) {
      // The hub refusing or unreachable fails the whole listing; a header that cannot be read is this file's note.
      if (e instanceof HubTransportError || e instanceof HubUnauthorizedError) throw e;
      result = { quantization: g.quantization, isProjector: g.isProjector, facts: null, error: (e as Error).message };
    }
    if (COMMIT.test(revision)) {
      if (this.cache.size >= FACTS_CACHE) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, result);
    }
    return result;
  }
}
