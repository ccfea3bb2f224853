import type { JWK } from 'jose';

/**
 * Signing-key rotation with overlap (docs/production.md, Signing-key rotation). Relying parties
 * cache the JWKS (commonly for 24 h), so a new key is published first and signs only after a delay,
 * and the key it replaces stays published for another delay, so tokens it signed still verify.
 *
 * The schedule is stored beside the keys (src/keys/signing-keys.ts) in the database: every IdP
 * process reads the same one and computes the same plan from the clock. Everything here is pure;
 * ./signing-refresh.ts applies the plan to a running oidc-provider.
 */

/** When a key signs and when it leaves the JWKS (epoch ms). A key without one signs from the start, forever. */
export interface KeyTimeline {
  kid: string;
  signFrom: number;
  retireAt: number | null;
}

/** The stored value: the private keys and their schedule. */
export interface StoredSigningKeys {
  keys: JWK[];
  timeline?: KeyTimeline[];
}

export type KeyState = 'next' | 'signing' | 'retiring' | 'retired';

export interface KeyStatus {
  kid: string;
  alg: string;
  state: KeyState;
  signFrom: number;
  retireAt: number | null;
}

const timelineOf = (stored: StoredSigningKeys, kid: string | undefined): KeyTimeline =>
  stored.timeline?.find((t) => t.kid === kid) ?? { kid: kid ?? '', signFrom: 0, retireAt: null };

/** Each key's state at `now`: per algorithm, the published key with the latest `signFrom` reached signs. */
export function keyStatuses(stored: StoredSigningKeys, now: number): KeyStatus[] {
  const rows = stored.keys.map((k, index) => ({ index, alg: k.alg ?? k.kty ?? '', ...timelineOf(stored, k.kid), kid: k.kid ?? '' }));
  const signer = new Map<string, number>();
  for (const r of rows) {
    const live = r.retireAt === null || now < r.retireAt;
    if (!live || r.signFrom > now) continue;
    const best = signer.get(r.alg);
    if (best === undefined || rows[best]!.signFrom <= r.signFrom) signer.set(r.alg, r.index);
  }
  return rows.map((r): KeyStatus => {
    const state: KeyState = r.retireAt !== null && now >= r.retireAt ? 'retired'
      : r.signFrom > now ? 'next'
        : signer.get(r.alg) === r.index ? 'signing' : 'retiring';
    return { kid: r.kid, alg: r.alg, state, signFrom: r.signFrom, retireAt: r.retireAt };
  });
}

/**
 * The JWKS to hand oidc-provider at `now`: every key not retired, the signing ones first (RSA
 * first, the default). oidc-provider signs with the first key that fits the algorithm
 * (lib/helpers/keystore.js selectForSign keeps the configured order), so a key listed after the
 * one signing is published and verified but never signs.
 */
export function planSigningKeys(stored: StoredSigningKeys, now: number): { keys: JWK[] } {
  const statuses = keyStatuses(stored, now);
  const rank = (i: number) => {
    const s = statuses[i]!;
    const key = stored.keys[i]!;
    return (s.state === 'signing' ? 0 : 2) + (key.kty === 'RSA' ? 0 : 1);
  };
  const order = stored.keys.map((_, i) => i).filter((i) => statuses[i]!.state !== 'retired').sort((a, b) => rank(a) - rank(b) || a - b);
  return { keys: order.map((i) => stored.keys[i]!) };
}

/** The next moment the plan changes (a key starts signing or retires), or null. */
export function nextChange(stored: StoredSigningKeys, now: number): number | null {
  const times = (stored.timeline ?? []).flatMap((t) => [t.signFrom, t.retireAt ?? 0]).filter((t) => t > now);
  return times.length ? Math.min(...times) : null;
}

export class RotationPending extends Error {
  readonly code = 'rotation_pending';
}

/**
 * `admin keys rotate`: adds `fresh` keys that are published now and sign from `now + activateAfterMs`;
 * the keys of the same algorithms they replace retire `retireAfterMs` after that. Keys already
 * retired are dropped. A rotation whose next key does not sign yet is refused unless `force`:
 * two overlapping rotations would leave a key published too briefly to reach every cache.
 */
export function rotateSigningKeys(
  stored: StoredSigningKeys,
  fresh: JWK[],
  now: number,
  opts: { activateAfterMs: number; retireAfterMs: number; force?: boolean },
): StoredSigningKeys {
  const statuses = keyStatuses(stored, now);
  const pending = statuses.filter((s) => s.state === 'next');
  if (pending.length && !opts.force) {
    throw new RotationPending(`a rotation is under way: key ${pending[0]!.kid} signs from ${new Date(pending[0]!.signFrom).toISOString()} (wait for it, or use --force)`);
  }
  const signFrom = now + opts.activateAfterMs;
  const retireAt = signFrom + opts.retireAfterMs;
  const algs = new Set(fresh.map((k) => k.alg));
  const kept = stored.keys.filter((_, i) => statuses[i]!.state !== 'retired');
  const timeline: KeyTimeline[] = kept.map((k) => {
    const t = timelineOf(stored, k.kid);
    return algs.has(k.alg) && t.retireAt === null ? { ...t, retireAt } : t;
  });
  return {
    keys: [...kept, ...fresh],
    timeline: [...timeline, ...fresh.map((k) => ({ kid: k.kid ?? '', signFrom, retireAt: null }))],
  };
}
