/** Splits a byte stream into NDJSON values, one per non-empty line; a line that is not JSON throws. */
export async function* ndjsonValues(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<unknown> {
  let buf = '';
  const decoder = new TextDecoder();
  const parse = (line: string): unknown => {
    try {
      return JSON.parse(line);
    } catch {
      throw new NdjsonLineError(line);
    }
  };
  for await (const chunk of chunks) {
    buf += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield parse(line);
    }
  }
  buf += decoder.decode();
  if (buf.trim()) yield parse(buf.trim());
}

/** A line of an NDJSON stream that is not JSON. */
export class NdjsonLineError extends Error {
  constructor(readonly line: string) {
    super(`a line that is not JSON: ${line.length > 80 ? `${line.slice(0, 80)}…` : line}`);
  }
}
