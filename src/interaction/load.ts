import type { Context } from 'koa';
import type { InteractionResults } from 'oidc-provider';
import { HttpError } from '../http/errors.js';
import { DEFAULT_POLICY, type InteractionDeps } from './deps.js';

/**
 * Re-reads the interaction from the server on every request (never trusts the form) and checks
 * that the URL's uid is the one bound to this browser's interaction cookie.
 */
export async function loadInteraction(ctx: Context, deps: InteractionDeps) {
  let details;
  try {
    details = await deps.provider.interactionDetails(ctx.req, ctx.res);
  } catch {
    throw new HttpError(400, 'session_not_found', 'This sign-in has expired or was started in another browser. Go back to the app and sign in again.');
  }
  if (details.uid !== ctx.params.uid) {
    throw new HttpError(400, 'interaction_mismatch', 'This page belongs to another sign-in. Go back to the app and sign in again.');
  }
  const clientId = details.params.client_id as string;
  const registration = deps.clients.get(clientId);
  const client = await deps.provider.Client.find(clientId);
  const policy = registration?.login ?? DEFAULT_POLICY;
  const ttlSeconds = Math.max(1, (details.exp ?? 0) - Math.floor(Date.now() / 1000));
  return { details, uid: details.uid, clientId, clientName: client?.clientName ?? clientId, policy, ttlSeconds };
}

export type LoadedInteraction = Awaited<ReturnType<typeof loadInteraction>>;

/** Ends the interaction the only way there is: through oidc-provider, with a 303 to its resume URL. */
export async function finishInteraction(ctx: Context, deps: InteractionDeps, result: InteractionResults): Promise<void> {
  const to = await deps.provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(to);
}
