import type { Profile } from './profile.types';

/** Events the profiles module emits (through `@nestjs/event-emitter`). */
export const ProfileEvents = {
  /**
   * A profile was made the active one and persisted in STATE_PATH. Emitted with `emitAsync`:
   * the fleet's listener reconciles and answers an ActivationSummary, which the activation
   * route returns (empty arrays when nobody answers).
   */
  Activated: 'profile.activated',
} as const;

/** Payload of `ProfileEvents.Activated`. */
export class ProfileActivatedEvent {
  constructor(
    readonly key: string,
    /** The profile's content as read for the activation. */
    readonly profile: Profile,
  ) {}
}
