import { randomBytes } from 'node:crypto';
import type { Challenge, ChallengeStatus } from './types.js';

/** Randomness source: n bytes. Injected so tests can be deterministic. */
export type RandomBytes = (n: number) => Buffer;

export interface NewChallengeInput {
  accountId: string;
  signInId: string | null;
  clientId: string;
  appName: string;
  ip: string;
  browser: string;
  location: string | null;
  numberMatching: boolean;
  /** Under number matching: the user types the number rather than choosing it (LoginPolicy.verifiedPush). */
  verifiedPush?: boolean;
  /** A CIBA request's binding message (already checked by its front door), or null. */
  bindingMessage?: string | null;
  /** When the sign-in proved its first factor (epoch ms). */
  firstFactorAt?: number;
  ttlMs: number;
  /** Epoch milliseconds. */
  now: number;
  random?: RandomBytes;
  /** An id drawn beforehand (newChallengeId), when the push was reserved under it before it exists. */
  id?: string;
}

/** 16 bytes = 128 bits: the id is a bearer reference and the nonce a replay guard (docs/architecture.md, sign-in step 7). */
const ID_BYTES = 16;
const NONCE_BYTES = 16;

/** A fresh challenge id. */
export function newChallengeId(random: RandomBytes = randomBytes): string {
  return random(ID_BYTES).toString('base64url');
}

/** A fresh pending challenge (docs/architecture.md, sign-in step 4). Pure apart from the injected randomness. */
export function newChallenge(input: NewChallengeInput): Challenge {
  const random = input.random ?? randomBytes;
  if (!(input.ttlMs > 0)) throw new RangeError('ttlMs must be positive');
  const choices = input.numberMatching ? numberChoices(random) : null;
  return {
    id: input.id ?? newChallengeId(random),
    accountId: input.accountId,
    signInId: input.signInId,
    clientId: input.clientId,
    appName: input.appName,
    nonce: random(NONCE_BYTES).toString('base64url'),
    matchNumber: choices ? choices.right : null,
    numberChoices: choices ? choices.shuffled : null,
    ip: input.ip,
    browser: input.browser,
    location: input.location,
    ...(input.bindingMessage ? { bindingMessage: input.bindingMessage } : {}),
    ...(choices && input.verifiedPush ? { verifiedPush: true } : {}),
    ...(input.firstFactorAt !== undefined ? { firstFactorAt: input.firstFactorAt } : {}),
    createdAt: input.now,
    expiresAt: input.now + input.ttlMs,
    status: 'pending',
    resolution: null,
  };
}

/** A pending challenge past its expiry is expired, whether or not anything has written that down. */
export function effectiveStatus(ch: Challenge, now: number): ChallengeStatus {
  return ch.status === 'pending' && now >= ch.expiresAt ? 'expired' : ch.status;
}

/** The challenge as a reader at `now` should see it: a lapsed one reads as expired, with a reason. */
export function asSeenAt(ch: Challenge, now: number): Challenge {
  if (effectiveStatus(ch, now) !== 'expired' || ch.status === 'expired') return ch;
  return {
    ...ch,
    status: 'expired',
    resolution: { status: 'expired', deviceId: null, decision: null, reason: 'expired', amr: [], at: ch.expiresAt },
  };
}

/** The right number and two distinct decoys, all 10..99, in a uniformly random order. */
function numberChoices(random: RandomBytes): { right: number; shuffled: number[] } {
  const pool = Array.from({ length: 90 }, (_, i) => i + 10);
  const picked: number[] = [];
  for (let k = 0; k < 3; k++) picked.push(pool.splice(uniformInt(random, pool.length), 1)[0]!);
  const right = picked[0]!;
  // Fisher-Yates, so the right number's position says nothing.
  for (let i = picked.length - 1; i > 0; i--) {
    const j = uniformInt(random, i + 1);
    [picked[i], picked[j]] = [picked[j]!, picked[i]!];
  }
  return { right, shuffled: picked };
}

/** Uniform integer in [0, n) for n <= 256, by rejection so that no value is favoured (no modulo bias). */
function uniformInt(random: RandomBytes, n: number): number {
  const limit = 256 - (256 % n);
  for (;;) {
    const b = random(1)[0]!;
    if (b < limit) return b % n;
  }
}
