import type { Context } from 'koa';
import { HttpError } from '../../http/errors.js';
import type { InteractionDeps } from '../deps.js';
import { finishInteraction, loadInteraction, type LoadedInteraction } from '../load.js';
import type { SignInState } from '../state.js';
import { amrFor } from './amr.js';

/** A sign-in past its first factor: the interaction (re-read from the server) and our state of it. */
export async function requireFirstFactor(ctx: Context, deps: InteractionDeps): Promise<{ it: LoadedInteraction; state: SignInState }> {
  const it = await loadInteraction(ctx, deps);
  if (it.details.prompt.name !== 'login') throw new HttpError(400, 'invalid_request', 'This sign-in does not expect a second factor now.');
  const state = await deps.signins.get(it.uid);
  if (!state) throw new HttpError(400, 'session_not_found', 'Sign in with your password first. Go back to the app and start again.');
  return { it, state };
}

export function checkCsrf(ctx: Context, deps: InteractionDeps, uid: string): void {
  const body = (ctx.request.body ?? {}) as Record<string, unknown>;
  if (!deps.csrf.valid(uid, body.csrf)) throw new HttpError(403, 'csrf', 'The form has expired. Go back and try again.');
}

/** DESIGN step 10: both factors done; the relying app's tokens will carry this amr and acr. */
export async function finishWithSecondFactor(ctx: Context, deps: InteractionDeps, it: LoadedInteraction, state: SignInState, second: string[], detail: Record<string, unknown>) {
  const account = await deps.accounts.findById(state.accountId);
  if (!account || account.disabled) {
    await deps.signins.delete(it.uid);
    throw new HttpError(403, 'access_denied', 'This account cannot sign in.');
  }
  const amr = amrFor(state.firstFactor.method, second);
  await deps.signins.delete(it.uid);
  await deps.audit.record({ type: 'signin.success', accountId: account.id, clientId: it.clientId, ip: ctx.ip, detail: { amr, ...detail } });
  await finishInteraction(ctx, deps, { login: { accountId: account.id, amr, acr: it.policy.acr.mfa } });
}
