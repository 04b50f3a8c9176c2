import pino from 'pino';

type SyncDestination = ReturnType<typeof pino.destination>;

/**
 * A pino destination that writes the lines logged during one event-loop turn with one
 * synchronous write(2), at the end of that turn (setImmediate).
 *
 * A busy gateway logs a line per request, several per turn: one write each cost about
 * 10 µs a line on the hot path. pino's asynchronous destination is worse there (every
 * write hops to libuv's thread pool and back). A line still leaves within the turn it was
 * logged in, and whatever is pending is written synchronously on exit, so only a SIGKILL
 * can lose lines — those of the last turn. The inner destination is pino's own
 * synchronous sonic-boom, which retries a full pipe instead of dropping lines.
 */
export class CoalescingDestination {
  private pending: string[] = [];
  private scheduled = false;

  constructor(private readonly out: SyncDestination) {}

  write(line: string): boolean {
    this.pending.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
    return true;
  }

  /** Writes every pending line now. */
  readonly flush = (): void => {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.length === 1 ? this.pending[0] : this.pending.join('');
    this.pending = [];
    this.out.write(text);
  };
}

let stdout: CoalescingDestination | null = null;

/** The process's one stdout destination (every app in a process shares fd 1), flushed on exit. */
export function stdoutDestination(): CoalescingDestination {
  if (!stdout) {
    const destination = new CoalescingDestination(pino.destination({ dest: 1, sync: true }));
    process.on('exit', destination.flush);
    stdout = destination;
  }
  return stdout;
}
