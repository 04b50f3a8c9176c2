/**
 * What the gateway tells the fleet about the requests it sends: a server with a request in
 * flight is never evicted or stopped as idle, and its last use orders evictions (API.md §9).
 * FleetService provides it; the token keeps the gateway's sender apart from the whole fleet.
 */
export abstract class FleetUsage {
  /** A request starts on this model's server. */
  abstract requestStarted(modelId: string): void;
  /** …and its answer ended (completed, broken or abandoned). */
  abstract requestEnded(modelId: string): void;
}
