import { onDemandModels, profileOrder, Profile, resolveEnabledModels } from './profile.types';

const IDS = ['gemma_3_12b_q4km', 'llama_3_8b_q4km', 'qwen3_14b_q4km', 'qwen3_4b_q4km', 'qwen3_8b_q4km'];

describe('profileOrder', () => {
  it('orders ids by the first pattern that names them', () => {
    expect(profileOrder(['qwen3_4b_q4km', 'llama_*', 'gemma_*'], IDS)).toEqual([
      'qwen3_4b_q4km',
      'llama_3_8b_q4km',
      'gemma_3_12b_q4km',
    ]);
  });

  it('keeps the ids order among ids one pattern names', () => {
    expect(profileOrder(['qwen3_*', 'gemma_*'], IDS)).toEqual([
      'qwen3_14b_q4km',
      'qwen3_4b_q4km',
      'qwen3_8b_q4km',
      'gemma_3_12b_q4km',
    ]);
  });

  it('places an id by its first matching pattern, not a later one', () => {
    expect(profileOrder(['qwen3_8b_q4km', '*_q4km', 'qwen3_4b_q4km'], IDS)).toEqual([
      'qwen3_8b_q4km',
      'gemma_3_12b_q4km',
      'llama_3_8b_q4km',
      'qwen3_14b_q4km',
      'qwen3_4b_q4km',
    ]);
  });

  it('holds the same ids as resolveEnabledModels, with ? and literal dots as in enabledModels', () => {
    const patterns = ['qwen3_?b_q4km', 'llama.3', 'nothing_*', 'missing_id'];
    const ids = [...IDS, 'llamax3'];
    expect(profileOrder(patterns, ids)).toEqual(['qwen3_4b_q4km', 'qwen3_8b_q4km']);
    expect([...profileOrder(patterns, ids)].sort()).toEqual([...resolveEnabledModels(patterns, ids)].sort());
  });

  it('is empty for no patterns or no ids', () => {
    expect(profileOrder([], IDS)).toEqual([]);
    expect(profileOrder(['*'], [])).toEqual([]);
  });
});

describe('onDemandModels', () => {
  const profile = (over: Partial<Profile> = {}): Profile => ({ name: 'p', enabledModels: ['*'], ...over });

  it('names the ids that onDemand.models matches, ids and globs alike', () => {
    const sut = onDemandModels(
      profile({ onDemand: { models: ['qwen3_*', 'gemma_3_12b_q4km'], idleTimeoutSeconds: 600 } }),
      IDS,
    );
    expect(sut).toEqual(new Set(['gemma_3_12b_q4km', 'qwen3_14b_q4km', 'qwen3_4b_q4km', 'qwen3_8b_q4km']));
  });

  it('only names ids it was given', () => {
    const sut = onDemandModels(profile({ onDemand: { models: ['qwen3_*', 'other_x'], idleTimeoutSeconds: 1 } }), [
      'llama_3_8b_q4km',
      'qwen3_4b_q4km',
    ]);
    expect(sut).toEqual(new Set(['qwen3_4b_q4km']));
  });

  it('is empty without a profile, without onDemand, or with an empty list', () => {
    expect(onDemandModels(null, IDS)).toEqual(new Set());
    expect(onDemandModels(profile(), IDS)).toEqual(new Set());
    expect(onDemandModels(profile({ onDemand: { models: [], idleTimeoutSeconds: 600 } }), IDS)).toEqual(new Set());
  });
});
