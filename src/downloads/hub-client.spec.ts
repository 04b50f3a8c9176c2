import { nextPageUrl } from './hub-client';
import { parseContentRange, retryDelayMs } from './file-transfer.service';

describe('nextPageUrl', () => {
  it('reads the next page of a GitHub-style Link header', () => {
    expect(
      nextPageUrl(
        '<https://huggingface.co/api/models/a/b/tree/main?recursive=true&cursor=xyz>; rel="next", <https://x/y>; rel="last"',
      ),
    ).toBe('https://huggingface.co/api/models/a/b/tree/main?recursive=true&cursor=xyz');
    expect(nextPageUrl('<https://x/2>; rel=next')).toBe('https://x/2');
  });

  it('is null without a next page', () => {
    expect(nextPageUrl(undefined)).toBeNull();
    expect(nextPageUrl('<https://x/y>; rel="prev"')).toBeNull();
    expect(nextPageUrl('garbage')).toBeNull();
  });
});

describe('parseContentRange', () => {
  it('reads start, end and size', () => {
    expect(parseContentRange('bytes 100-199/1000')).toEqual({ start: 100, end: 199, size: 1000 });
    expect(parseContentRange('bytes 0-9/*')).toMatchObject({ start: 0, end: 9 });
    expect(parseContentRange(undefined)).toBeNull();
    expect(parseContentRange('bytes */1000')).toBeNull();
  });
});

describe('retryDelayMs', () => {
  it('backs off from half a second, doubling, up to 8 s', () => {
    expect([1, 2, 3, 4, 5, 6].map(retryDelayMs)).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
  });
});
