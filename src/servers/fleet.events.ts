/** Events the fleet emits (through `@nestjs/event-emitter`). */
export const FleetEvents = {
  /** A server was given a port (the registry remembers it, so the model keeps it across restarts). */
  ServerPortAssigned: 'fleet.server.port-assigned',
} as const;

/** Payload of `FleetEvents.ServerPortAssigned`. */
export class ServerPortAssignedEvent {
  constructor(
    readonly modelId: string,
    readonly port: number,
  ) {}
}
