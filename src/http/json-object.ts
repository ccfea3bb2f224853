/**
 * Pure: a request body's bytes as one JSON object, strictly (RFC 8259 8.1): bytes that are not
 * UTF-8 are refused, not replaced by U+FFFD (red-team: a phone's name stored as "Pixel \uFFFD"),
 * and so are JSON that does not parse and any value but an object. `refuse(message)` makes the
 * caller's own 400 (the agent API's and the device API's error formats differ); `noun` names the
 * body in its messages. A leading byte-order mark is dropped, or kept for JSON.parse to refuse.
 */
export function strictJsonObject(raw: Uint8Array, opts: { noun: string; bom: 'drop' | 'refuse'; refuse: (message: string) => Error }): { value: Record<string, unknown>; text: string } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: opts.bom === 'refuse' }).decode(raw);
  } catch {
    throw opts.refuse(`${opts.noun} is not valid UTF-8`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw opts.refuse(`${opts.noun} is not valid JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw opts.refuse(`${opts.noun} must be a JSON object`);
  return { value: parsed as Record<string, unknown>, text };
}
