import { canMove, DOWNLOAD_STATES, isTerminal } from './download-job';

describe('download job states', () => {
  it('runs queued → downloading → verifying → done, back to downloading for the next file', () => {
    expect(canMove('queued', 'downloading')).toBe(true);
    expect(canMove('downloading', 'verifying')).toBe(true);
    expect(canMove('verifying', 'downloading')).toBe(true);
    expect(canMove('verifying', 'done')).toBe(true);
  });

  it('lets every unfinished state fail or be cancelled, and a running one wait again for the next start', () => {
    for (const s of ['queued', 'downloading', 'verifying'] as const) {
      expect(canMove(s, 'failed')).toBe(true);
      expect(canMove(s, 'cancelled')).toBe(true);
    }
    expect(canMove('downloading', 'queued')).toBe(true);
    expect(canMove('verifying', 'queued')).toBe(true);
  });

  it('never leaves done, failed or cancelled, and never skips to done', () => {
    for (const from of ['done', 'failed', 'cancelled'] as const) {
      expect(isTerminal(from)).toBe(true);
      for (const to of DOWNLOAD_STATES) expect(canMove(from, to)).toBe(false);
    }
    expect(canMove('queued', 'done')).toBe(false);
    expect(canMove('downloading', 'done')).toBe(false);
  });
});
