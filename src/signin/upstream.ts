import type { UpstreamTrust } from '../upstream/config.js';
import type { JwksSource } from '../upstream/jwks-cache.js';
import type { FederatedLinks } from '../upstream/links.js';
import type { UsedHints } from '../upstream/replay.js';
import { verifyHint, type HintRefusal } from '../upstream/verify-hint.js';
import { sendPush, type PushResult } from './push.js';
import type { SignInState } from './state.js';
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
  if (!(await deps.upstream.used.firstUse(input.hint, input.trust.maxAgeSeconds + REMEMBER_EXTRA_SECONDS))) {
    await refuse('replayed');
    return { kind: 'replayed' };
  }

  let link = await deps.upstream.links.find(hint.issuer, hint.subject);
  if (!link && input.trust.linkClaim) link = await autoLink(deps, hint.issuer, hint.subject, hint.claims[input.trust.linkClaim], app.clientId);
  if (!link) {
    await refuse('unknown_user');
    return { kind: 'unknown-user' };
  }
  const account = await deps.accounts.findById(link.accountId);
  if (!account || account.disabled) {
    await refuse('account_disabled', link.accountId);
    return { kind: 'refused', reason: 'account_disabled' };
  }

  const state: SignInState = { accountId: account.id, firstFactor: { method: 'upstream', at: startedAt, ...(input.acr ? { acr: input.acr } : {}) }, challengeId: null };
  await deps.states.put(ref.id, state, ref.ttlSeconds);
  await deps.audit.record({ type: 'signin.upstream', accountId: account.id, clientId: app.clientId, ip: requester.ip, detail: { issuer: hint.issuer, subject: hint.subject } });

  // The second factor is the whole of this IdP's part: no authenticator, no sign-in (whatever the
  // app's noDevice says: there is no password here to fall back on).
  if (!(await deps.devices.listByAccount(account.id)).some((d) => d.status === 'active')) {
    await deps.states.delete(ref.id);
    await refuse('no_device', account.id);
    return { kind: 'refused', reason: 'no_device' };
  }
  if (app.policy.form === 'two-step') return { kind: 'choose-second-factor' };
  return { kind: 'push', push: await sendPush(deps, { ...ref, state }) };
}

/**
 * Links an upstream identity to the account whose username the configured claim names (docs/entra.md,
 * "Linking accounts"). Only for upstreams that control those names (one tenant's UPNs).
 */
async function autoLink(deps: SignInDeps & { upstream: UpstreamDeps }, issuer: string, subject: string, claim: unknown, clientId: string) {
  if (typeof claim !== 'string' || claim.length === 0 || claim.length > 100) return null;
  const account = await deps.accounts.findByUsername(claim);
  if (!account) return null;
  await deps.upstream.links.link(issuer, subject, account.id);
  const link = await deps.upstream.links.find(issuer, subject);
  if (link) await deps.audit.record({ type: 'federation.link', accountId: link.accountId, clientId, detail: { issuer, subject, by: 'auto', claim: account.username } });
  return link;
}
