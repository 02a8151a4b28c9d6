/**
 * The string form of a pattern as it travels and as handlers are looked up. Clients send
 * patterns already normalized by Nest (`normalizePattern`, sorted object keys); anything else is
 * stringified, and Nest's own lookup normalizes JSON object patterns again.
 */
export function patternToRoute(pattern: unknown): string {
  if (typeof pattern === 'string') return pattern;
  if (typeof pattern === 'number') return String(pattern);
  try {
    return JSON.stringify(pattern) ?? String(pattern);
  } catch {
    return '[UNSERIALIZABLE_PATTERN]';
  }
}
