/** A bounded buffer of output lines: the newest `capacity` lines, oldest first. */
export class LogRing {
  private readonly buf: string[];
  private start = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.buf = new Array<string>(Math.max(1, capacity));
  }

  push(line: string): void {
    const cap = this.buf.length;
    if (this.size < cap) {
      this.buf[(this.start + this.size) % cap] = line;
      this.size++;
    } else {
      this.buf[this.start] = line;
      this.start = (this.start + 1) % cap;
    }
  }

  get length(): number {
    return this.size;
  }

  /** The last `n` lines (all when n is omitted or larger), oldest first. */
  tail(n = this.size): string[] {
    const count = Math.max(0, Math.min(n, this.size));
    const out = new Array<string>(count);
    const cap = this.buf.length;
    for (let i = 0; i < count; i++) out[i] = this.buf[(this.start + this.size - count + i) % cap];
    return out;
  }
}
