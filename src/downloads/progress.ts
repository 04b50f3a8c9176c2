/**
 * Progress arithmetic of a download, pure: how long an SSE stream waits before its next
 * `progress` event (at most one per interval, the last change never lost), and the
 * transfer rate over a sliding window.
 */

/** API.md §10: at most 4 progress events a second. */
export const PROGRESS_INTERVAL_MS = 250;

/**
 * Milliseconds to wait before sending a progress event for a change seen at `now`, given
 * when the last one went out (null: none yet). 0 means send now. A caller that waits sends
 * the state as it is then, so the latest change always goes out, at most once per interval.
 */
export function progressDelay(lastSentAt: number | null, now: number, intervalMs = PROGRESS_INTERVAL_MS): number {
  if (lastSentAt === null) return 0;
  const elapsed = now - lastSentAt;
  return elapsed >= intervalMs || elapsed < 0 ? 0 : intervalMs - elapsed;
}

/**
 * Bytes per second over the last `windowMs`: fed the running total as it grows, it
 * answers the slope between the oldest sample inside the window and the newest.
 */
export class RateMeter {
  private readonly samples: Array<{ at: number; total: number }> = [];

  constructor(private readonly windowMs = 3000) {}

  /** Records the running total at `now`. */
  add(now: number, total: number): void {
    const last = this.samples[this.samples.length - 1];
    if (last && last.at === now) last.total = total;
    else this.samples.push({ at: now, total });
    this.prune(now);
  }

  /** Forgets the samples (a paused or restarted transfer starts its rate afresh). */
  reset(): void {
    this.samples.length = 0;
  }

  /** Whole bytes per second at `now`; 0 with fewer than two samples in the window. */
  rate(now: number): number {
    this.prune(now);
    if (this.samples.length < 2) return 0;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const dt = last.at - first.at;
    return dt > 0 ? Math.max(0, Math.round(((last.total - first.total) * 1000) / dt)) : 0;
  }

  private prune(now: number): void {
    // Keep one sample at or before the window's start so the slope spans the whole window.
    while (this.samples.length > 2 && this.samples[1].at <= now - this.windowMs) this.samples.shift();
    if (this.samples.length && this.samples[this.samples.length - 1].at < now - this.windowMs) this.samples.length = 0;
  }
}
