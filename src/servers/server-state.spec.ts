import { SERVER_STATES } from '../common/vocabulary/server-states';
import { AT_REST, SERVER_TRANSITIONS, canTransition } from './server-state';

describe('server state transitions', () => {
  it.each([
    ['stopped', 'starting'],
    ['starting', 'ready'],
    ['starting', 'restarting'],
    ['starting', 'failed'],
    ['ready', 'restarting'],
    ['ready', 'stopping'],
    ['restarting', 'starting'],
    ['failed', 'starting'],
    ['failed', 'stopping'],
    ['stopping', 'stopped'],
    ['unloaded', 'queued'],
    ['unloaded', 'starting'],
    ['queued', 'starting'],
    ['queued', 'unloaded'],
    ['stopping', 'unloaded'],
    ['stopped', 'failed'],
  ] as const)('allows %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
  });

  it.each([
    ['stopped', 'ready'],
    ['stopped', 'stopping'],
    ['ready', 'starting'],
    ['restarting', 'ready'],
    ['failed', 'ready'],
    ['stopping', 'starting'],
    ['stopping', 'ready'],
    ['unloaded', 'ready'],
    ['queued', 'ready'],
    ['unloaded', 'stopping'],
    ['stopping', 'queued'],
  ] as const)('refuses %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
  });

  it('only names known states; every state with a process can reach stopping, every other one a rest state directly', () => {
    for (const s of SERVER_STATES) {
      for (const t of SERVER_TRANSITIONS[s]) expect(SERVER_STATES).toContain(t);
      if (s === 'stopping') continue;
      if (AT_REST.has(s) && s !== 'failed') expect(canTransition(s, 'stopping')).toBe(false);
      else expect(canTransition(s, 'stopping')).toBe(true);
    }
  });
});
