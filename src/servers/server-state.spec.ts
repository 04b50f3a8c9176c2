import { SERVER_STATES } from '../common/vocabulary/server-states';
import { SERVER_TRANSITIONS, canTransition } from './server-state';

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
  ] as const)('refuses %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
  });

  it('only names known states and lets every state but stopped reach stopping', () => {
    for (const s of SERVER_STATES) {
      for (const t of SERVER_TRANSITIONS[s]) expect(SERVER_STATES).toContain(t);
      if (s !== 'stopped' && s !== 'stopping') expect(canTransition(s, 'stopping')).toBe(true);
    }
  });
});
