/**
 * llama-server settings as a profile declares them (all optional): the profiles module
 * validates and stores them, the servers module turns them into a command line.
 */
export interface ProfileServerSettings {
  ctxSize?: number;
  gpuLayers?: number | 'auto' | 'all';
  parallel?: number;
  extraArgs?: string[];
  /** Start servers with --embeddings so /v1/embeddings can route to them. */
  embeddings?: boolean;
}
