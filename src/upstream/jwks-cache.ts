import { readFile } from 'node:fs/promises';
import type { JWK } from 'jose';

/** Why the upstream's keys could not be had: the sign-in is then "temporarily unavailable", not refused. */
export class KeysUnavailable extends Error {
  readonly code = 'upstream_keys_unavailable';
}

export interface JwksSource {
  /** The public key with this kid, fetching the set again when the kid is not known yet. */
  key(kid: string): Promise<JWK | null>;
}

export interface JwksCacheOptions {
  uri: string | null;
  file: string | null;
  now?: () => number;
  /** Keys are fetched again after this long even if every kid is known (Entra rolls keys; docs/entra.md). */
  maxAgeMs?: number;
  /** An unknown kid fetches again at most this often: a flood of made-up kids cannot flood the issuer. */
  refetchAfterMs?: number;
  fetchTimeoutMs?: number;
}

const MAX_BYTES = 512 * 1024;

async function fetchJwks(uri: string, timeoutMs: number): Promise<JWK[]> {
  let res: Response;
  try {
    res = await fetch(uri, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error', headers: { accept: 'application/json' } });
  } catch (err) {
    throw new KeysUnavailable(`fetching ${uri} failed: ${(err as Error).message}`);
  }
  if (!res.ok) throw new KeysUnavailable(`fetching ${uri} answered ${res.status}`);
  return parseJwks(await cappedText(res, uri), uri);
}

/**
 * The body, read as it arrives and abandoned past MAX_BYTES (red-team: a 48 MB key set was read to
 * its last byte before being refused); a connection reset or the timeout while reading is keys
 * unavailable too (red-team: either escaped as a 500 page, where the app is owed temporarily_unavailable).
 */
async function cappedText(res: Response, uri: string): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  const tooLarge = () => new KeysUnavailable(`${uri} is larger than ${MAX_BYTES} bytes`);
  if (declared > MAX_BYTES) { await res.body?.cancel().catch(() => undefined); throw tooLarge(); }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  try {
    for (let read = await reader?.read(); read && !read.done; read = await reader!.read()) {
      size += read.value.byteLength;
      if (size > MAX_BYTES) { await reader!.cancel().catch(() => undefined); throw tooLarge(); }
      chunks.push(read.value);
    }
  } catch (err) {
    if (err instanceof KeysUnavailable) throw err;
    throw new KeysUnavailable(`reading ${uri} failed: ${(err as Error).message}`);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJwks(text: string, where: string): JWK[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new KeysUnavailable(`${where} is not JSON`);
  }
  const keys = (body as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) throw new KeysUnavailable(`${where} is not a JSON Web Key Set`);
  // Public keys only: a set that hands out a private member is not used at all.
  return keys.filter((k): k is JWK => typeof k === 'object' && k !== null && typeof (k as JWK).kid === 'string' && !('d' in k));
}

/**
 * One upstream issuer's keys, kept in memory per process: fetched at first use, again after
 * maxAgeMs, and again when a token names a kid not in the set (the issuer rolled its keys), at
 * most once per refetchAfterMs. Concurrent misses share one fetch.
 */
export function createJwksCache(opts: JwksCacheOptions): JwksSource {
  const now = opts.now ?? Date.now;
  const maxAgeMs = opts.maxAgeMs ?? 24 * 3600_000;
  const refetchAfterMs = opts.refetchAfterMs ?? 10_000;
  let keys: JWK[] | null = null;
  let fetchedAt = 0;
  let inFlight: Promise<JWK[]> | null = null;

  const load = async (): Promise<JWK[]> => {
    if (opts.file) {
      let text: string;
      try { text = await readFile(opts.file, 'utf8'); } catch (err) { throw new KeysUnavailable(`reading ${opts.file} failed: ${(err as Error).message}`); }
      return parseJwks(text, opts.file);
    }
    if (!opts.uri) throw new KeysUnavailable('no key source configured');
    return fetchJwks(opts.uri, opts.fetchTimeoutMs ?? 5000);
  };
  const refresh = (): Promise<JWK[]> => {
    inFlight ??= load().then((k) => { keys = k; fetchedAt = now(); return k; }).finally(() => { inFlight = null; });
    return inFlight;
  };
  const find = (set: JWK[] | null, kid: string) => set?.find((k) => k.kid === kid) ?? null;

  return {
    async key(kid) {
      if (!keys || now() - fetchedAt >= maxAgeMs) {
        try {
          await refresh();
        } catch (err) {
          if (!keys) throw err; // keep serving the keys we have while the issuer is down
        }
      }
      const hit = find(keys, kid);
      if (hit) return hit;
      if (now() - fetchedAt < refetchAfterMs) return null;
      return find(await refresh(), kid);
    },
  };
}
