import { PROGRESS_INTERVAL_MS, progressDelay, RateMeter } from './progress';

describe('progressDelay', () => {
  it('sends the first event at once', () => {
    expect(progressDelay(null, 1000)).toBe(0);
  });

  it('holds later events to one per interval', () => {
    expect(progressDelay(1000, 1000)).toBe(PROGRESS_INTERVAL_MS);
    expect(progressDelay(1000, 1100)).toBe(150);
    expect(progressDelay(1000, 1250)).toBe(0);
    expect(progressDelay(1000, 5000)).toBe(0);
  });

  it('never waits when the clock went backwards', () => {
    expect(progressDelay(5000, 1000)).toBe(0);
  });

  it('lets a burst of changes out at most 4 times a second', () => {
    // A change every 10 ms for 2 s: the sender waits progressDelay() and sends once per wait.
    let last: number | null = null;
    let pendingUntil: number | null = null;
    const sent: number[] = [];
    for (let t = 0; t <= 2000; t += 10) {
      if (pendingUntil !== null && t >= pendingUntil) {
        sent.push(t);
        last = t;
        pendingUntil = null;
      }
      if (pendingUntil === null) {
        const d = progressDelay(last, t);
        if (d === 0) {
          sent.push(t);
          last = t;
        } else pendingUntil = t + d;
      }
    }
    for (let i = 1; i < sent.length; i++) expect(sent[i] - sent[i - 1]).toBeGreaterThanOrEqual(PROGRESS_INTERVAL_MS);
    expect(sent.length).toBeGreaterThanOrEqual(8);
    expect(sent.length).toBeLessThanOrEqual(9);
  });
});

describe('RateMeter', () => {
  it('is 0 before two samples', () => {
    const sut = new RateMeter();
    expect(sut.rate(0)).toBe(0);
    sut.add(0, 0);
    expect(sut.rate(0)).toBe(0);
  });

  it('answers the slope over the window', () => {
    const sut = new RateMeter(3000);
    for (let t = 0; t <= 10_000; t += 500) sut.add(t, t * 1000); // 1 MB/s
    expect(sut.rate(10_000)).toBe(1_000_000);
  });

  it('follows a change of speed within the window', () => {
    const sut = new RateMeter(2000);
    for (let t = 0; t <= 5000; t += 100) sut.add(t, t * 10);
    let total = 50_000;
    for (let t = 5100; t <= 10_000; t += 100) sut.add(t, (total += 100 * 100));
    expect(sut.rate(10_000)).toBe(100_000);
  });

  it('falls to 0 when nothing arrived within the window', () => {
    const sut = new RateMeter(1000);
    sut.add(0, 0);
    sut.add(500, 500);
    expect(sut.rate(5000)).toBe(0);
  });
});
