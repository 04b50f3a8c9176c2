import { connectHost, httpOrigin, urlHost } from './host';

describe('connectHost', () => {
  it('connects over loopback to a server bound to every address', () => {
    expect(connectHost('0.0.0.0')).toBe('127.0.0.1');
    expect(connectHost('')).toBe('127.0.0.1');
    expect(connectHost('::')).toBe('::1');
    expect(connectHost('[::]')).toBe('::1');
  });

  it('keeps any other host as it is', () => {
    expect(connectHost('127.0.0.1')).toBe('127.0.0.1');
    expect(connectHost('::1')).toBe('::1');
    expect(connectHost('gpu-box.local')).toBe('gpu-box.local');
  });
});

describe('urlHost', () => {
  it('brackets an IPv6 literal once and leaves names and IPv4 alone', () => {
    expect(urlHost('::1')).toBe('[::1]');
    expect(urlHost('[::1]')).toBe('[::1]');
    expect(urlHost('127.0.0.1')).toBe('127.0.0.1');
    expect(urlHost('localhost')).toBe('localhost');
  });
});

describe('httpOrigin', () => {
  it('builds http://host:port with IPv6 in brackets', () => {
    expect(httpOrigin('127.0.0.1', 8080)).toBe('http://127.0.0.1:8080');
    expect(httpOrigin('::1', 8080)).toBe('http://[::1]:8080');
    expect(httpOrigin('[::1]', 8080)).toBe('http://[::1]:8080');
    expect(httpOrigin('localhost', 1)).toBe('http://localhost:1');
  });
});
