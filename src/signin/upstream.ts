import type { UpstreamTrust } from '../upstream/config.js';
import type { JwksSource } from '../upstream/jwks-cache.js';
import type { FederatedLinks } from '../upstream/links.js';
import type { UsedHints } from '../upstream/replay.js';
import { verifyHint, type HintRefusal } from '../upstream/verify-hint.js';
import { sendPush, type PushResult } from './push.js';
import type { PendingLink, SignInState } from './state.js';
import type { SignInDeps, SignInRef } from './types.js';

/** What the upstream first factor needs besides the core's engines (app.ts wires them). */
export interface UpstreamDeps {
  /** The key set of a client's upstream issuer (one cache per client). */
  keysFor(clientId: string): JwksSource | null;
  used: UsedHints;
  links: FederatedLinks;
}

export interface UpstreamInput {
  /** The `id_token_hint` as the request carried it. */
  hint: string;
  trust: UpstreamTrust;
  /** The acr the front door will answer with (Entra: one of those it asked for). */
  acr?: string;
}

export type UpstreamResult =
  /** No hint, or one that fails a check: refused (`retry`: the issuer's keys were out of reach, try later). */
  | { kind: 'invalid'; reason: HintRefusal | 'missing' | 'keys_unavailable'; retry: boolean }
  /** This very hint was used before. */
  | { kind: 'replayed' }
  /** This sign-in used this hint already, in another request of it (its page loaded twice at once): nothing done here. */
  | { kind: 'same-sign-in'; msAgo: number }
  /** A valid hint for an identity linked to no account here. */
  | { kind: 'unknown-user' }
  | { kind: 'refused'; reason: 'account_disabled' | 'no_device' }
  | { kind: 'choose-second-factor' }
  | { kind: 'push'; push: PushResult };

/** Extra time a used hint is remembered beyond its maximum age (the clock skew verify-hint.ts allows). */
const REMEMBER_EXTRA_SECONDS = 120;

/**
 * sign-in step 2 (docs/architecture.md) from a trusted upstream assertion instead of a password
 * (MFA-only mode, docs/entra.md): the hint is verified, used once, mapped to an account through
 * its federated-identity link, and the sign-in continues at the second factor like any other:
 * the same state, passcode limits, push fatigue, device checks and audit.
 */
export async function upstreamFirstFactor(deps: SignInDeps & { upstream: UpstreamDeps }, ref: SignInRef, input: UpstreamInput): Promise<UpstreamResult> {
  const { requester } = ref;
  const { app } = requester;
  const refuse = async (reason: string, accountId: string | null = null) => {
    await deps.audit.record({ type: 'signin.upstream.refused', accountId, clientId: app.clientId, ip: requester.ip, detail: { reason } });
  };
  // Taken before the account is read, as the password's (first-factor.ts): an end of the account's sessions meanwhile ends this sign-in.
  const startedAt = deps.now();
  const keys = deps.upstream.keysFor(app.clientId);
  if (!input.hint || !keys) {
    await refuse('missing');
    return { kind: 'invalid', reason: 'missing', retry: false };
  }
  const verdict = await verifyHint(input.hint, { trust: input.trust, keys, clientId: app.clientId, nowSeconds: Math.floor(deps.now() / 1000) });
  if (!verdict.ok) {
    await refuse(verdict.reason);
    return { kind: 'invalid', reason: verdict.reason, retry: verdict.reason === 'keys_unavailable' };
  }
  const { hint } = verdict;
  const use = await deps.upstream.used.use(input.hint, input.trust.maxAgeSeconds + REMEMBER_EXTRA_SECONDS, ref.id);
  if (use.kind === 'same-sign-in') return use;
  if (use.kind === 'replayed') {
    await refuse('replayed');
    return { kind: 'replayed' };
  }

  const link = await deps.upstream.links.find(hint.issuer, hint.subject);
  // By name only for the issuer's own users: a guest's names are its home tenant's, which the allow-list does not vouch for (review).
  const guest = hint.tenant !== null && hint.claims.tid !== hint.tenant;
  const pending = !link && !guest && input.trust.linkClaim ? await autoLinkTarget(deps, hint.issuer, hint.subject, linkName(hint.claims, input.trust.linkClaim)) : null;
  const accountId = link?.accountId ?? pending?.accountId;
  if (!accountId) {
    await refuse('unknown_user');
    return { kind: 'unknown-user' };
  }
  const account = await deps.accounts.findById(accountId);
  if (!account || account.disabled) {
    await refuse('account_disabled', accountId);
    return { kind: 'refused', reason: 'account_disabled' };
  }

  const firstFactor: SignInState['firstFactor'] = { method: 'upstream', at: startedAt, ...(input.acr ? { acr: input.acr } : {}), ...(pending ? { link: pending.link } : {}) };
  const state: SignInState = { accountId: account.id, firstFactor, challengeId: null };
  await deps.states.put(ref.id, state, ref.ttlSeconds);
  await deps.audit.record({ type: 'signin.upstream', accountId: account.id, clientId: app.clientId, ip: requester.ip, detail: { issuer: hint.issuer, subject: hint.subject, ...(pending ? { link: 'on_finish' } : {}) } });

  // The second factor is the whole of this IdP's part: no authenticator, no sign-in (whatever the
  // app's noDevice says: there is no password here to fall back on).
  if (!(await deps.devices.listByAccount(account.id)).some((d) => d.status === 'active')) {
    await deps.states.delete(ref.id);
    await refuse('no_device', account.id);
    return { kind: 'refused', reason: 'no_device' };
  }
  if (app.policy.form === 'two-step' && !app.policy.autoPush) return { kind: 'choose-second-factor' };
  return { kind: 'push', push: await sendPush(deps, { ...ref, state }) };
}

/**
 * The username a hint's link claim names, or null: a string of 1-100 characters; an `email` claim
 * only when the upstream says it verified it (`email_verified: true`). Pure.
 */
export function linkName(claims: Record<string, unknown>, linkClaim: string): string | null {
  const value = claims[linkClaim];
  if (typeof value !== 'string' || value.length === 0 || value.length > 100) return null;
  if (linkClaim === 'email' && claims.email_verified !== true) return null;
  return value;
}

/**
 * Whether an upstream's name is this username: the same characters, letter case aside for A-Z only.
 * The account look-up folds case as PostgreSQL does, which also folds look-alikes (U+0130 "İ" to
 * "i", the Kelvin sign to "k"): an upstream name that merely folds to a username does not name it.
 * Pure.
 */
export function namesUsername(claim: string, username: string): boolean {
  const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return asciiLower(claim) === asciiLower(username);
}

/**
 * The account an upstream identity that is not linked yet would be linked to by the configured claim
 * (docs/entra.md, "Linking accounts"; only for upstreams that control those names, one tenant's
 * UPNs), and the link to write once the sign-in finishes with its second factor (finish.ts): a push
 * the account's phone never approved links nothing.
 */
async function autoLinkTarget(deps: SignInDeps, issuer: string, subject: string, claim: string | null): Promise<{ accountId: string; link: PendingLink } | null> {
  if (claim === null) return null;
  const account = await deps.accounts.findByUsername(claim);
  if (!account || !namesUsername(claim, account.username)) return null;
  return { accountId: account.id, link: { issuer, subject, username: account.username } };
}
