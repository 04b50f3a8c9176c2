/**
 * The memory estimate: header facts + server settings → bytes. Pure (no Nest, no fs).
 *
 *   const header = await parseGgufHeader(source, MEMORY_PARSE_OPTIONS);  // each shard, and the mmproj
 *   const facts = modelMemoryFacts([header], projectorHeader);            // null: the header cannot tell
 *   const estimate = estimateMemory(facts, { ctxSize: 8192, parallel: 4, cacheTypeK: 'q8_0', cacheTypeV: 'q8_0' });
 */
export { estimateMemory, MemorySettingsError } from './memory-estimate';
export type { MemoryEstimate, MemorySettings } from './memory-estimate';
export { MEMORY_PARSE_OPTIONS, modelMemoryFacts } from './memory-facts';
export type { HeaderForMemory, KvLayerGroup, ModelMemoryFacts, RecurrentFacts, TensorShape } from './memory-facts';
export { CACHE_TYPES, GGML_TYPES, ggmlTypeByName, tensorDataBytes } from './ggml-types';
export type { CacheType, GgmlTypeTraits } from './ggml-types';
export { memorySettingsOf } from './profile-settings';
