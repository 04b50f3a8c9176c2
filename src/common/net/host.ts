/**
 * Host and URL helpers for the servers MAGI starts and talks to. IPv6 literals need
 * brackets in a URL, and a server bound to every address is reached over loopback.
 */

/** Where to connect to a server bound to `host`: loopback for the wildcard addresses, else `host` itself. */
export function connectHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host;
}

/** `host` as it goes into a URL: an IPv6 literal in brackets (once), anything else as it is. */
export function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** `http://host:port`, with an IPv6 literal in brackets. */
export function httpOrigin(host: string, port: number): string {
  return `http://${urlHost(host)}:${port}`;
}
