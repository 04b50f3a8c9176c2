import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';

/** Read again this soon after a read found output… */
const POLL_MIN_MS = 10;
/** …backing off (doubling) to this while the process is quiet. */
const POLL_MAX_MS = 100;
/** A pipe holds 64 KiB on Linux: one read takes all of it. */
const CHUNK_BYTES = 64 * 1024;

/**
 * A child's stdout and stderr as one named pipe (FIFO) that MAGI reads in batches on a
 * timer, instead of the socketpairs Node gives a child, read line by line.
 *
 * Why: llama-server logs several lines per request. Read as they come, every line
 * wakes MAGI's event loop (a read, a decode, an event): measured against a real
 * llama-server (BENCHMARKS.md, "Gateway decisions") it is a visible share of the
 * gateway's hot path. Node's socketpair fills after a few hundred small lines, so it
 * cannot simply be read later; a pipe holds 64 KiB of text (~800 log lines), so reading
 * every 10 ms while output comes (up to every 100 ms when quiet) never makes the child
 * wait on it in practice. Unlike a temp file, a pipe loses nothing and never grows.
 *
 * The FIFO is unlinked as soon as both ends are open, so nothing is left on disk.
 * Reads are synchronous and non-blocking (EAGAIN when empty): one syscall per batch,
 * lines kept in order without a read queue.
 */
export class OutputPipe {
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');
  private readonly buf = Buffer.allocUnsafe(CHUNK_BYTES);
  private timer: NodeJS.Timeout | undefined;
  private interval = POLL_MIN_MS;
  private closed = false;

  private constructor(
    private readonly fd: number,
    private readonly onLine: (line: string) => void,
  ) {}

  /**
   * Creates the pipe. Returns the reader and the descriptor to give the child as stdout
   * and stderr (close it in the parent once the child is spawned). Null when no FIFO can
   * be made in `inDir` (no `mkfifo`, not writable): the caller falls back to Node's pipes.
   */
  static create(inDir: string, onLine: (line: string) => void): { reader: OutputPipe; childFd: number } | null {
    let dir: string | null = null;
    let fd: number | null = null;
    try {
      dir = mkdtempSync(join(inDir, 'magi-output-'));
      const path = join(dir, 'output');
      // Node has no mkfifo(3); coreutils' mkfifo is everywhere MAGI runs (a few ms, once per launch).
      execFileSync('mkfifo', ['-m', '600', path], { stdio: 'ignore', timeout: 5000 });
      // The read end first and non-blocking, so opening the write end does not wait.
      fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
      const childFd = openSync(path, constants.O_WRONLY);
      return { reader: new OutputPipe(fd, onLine), childFd };
    } catch {
      if (fd !== null) closeSync(fd);
      return null;
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Starts reading on a timer: every 10 ms while output comes, up to every 500 ms when quiet. */
  start(): void {
    this.schedule();
  }

  /** Hands on every complete line written so far. */
  readNow(): void {
    if (this.closed) return;
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, CHUNK_BYTES, null);
      } catch {
        break; // EAGAIN: nothing more for now
      }
      if (n === 0) break; // every writer closed it
      this.interval = POLL_MIN_MS;
      this.split(this.decoder.write(this.buf.subarray(0, n)));
      // A read of a pipe takes all it holds up to the buffer's size: less means it is empty
      // now. Reading again would only fail with EAGAIN, and Node throws a full Error for it.
      if (n < CHUNK_BYTES) break;
    }
  }

  /** Reads what is left, hands on a last unterminated line and releases the file. */
  close(): void {
    if (this.closed) return;
    this.readNow();
    this.closed = true;
    clearTimeout(this.timer);
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest) this.emit(rest);
    try {
      closeSync(this.fd);
    } catch {
      /* already closed */
    }
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      if (this.closed) return;
      this.interval = Math.min(this.interval * 2, POLL_MAX_MS);
      this.readNow();
      this.schedule();
    }, this.interval);
    this.timer.unref();
  }

  private split(text: string): void {
    if (!text) return;
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.emit(line);
  }

  private emit(line: string): void {
    this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
  }
}
