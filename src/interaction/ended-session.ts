import type { Context } from 'koa';
import { errors } from 'oidc-provider';
import { SeeOther } from '../http/errors.js';
import { formatFor } from '../http/edge.js';
import type { InteractionDeps } from './deps.js';
import { browserBinding } from './browser-binding.js';

/*
 * A sign-in of a browser whose SSO session ended while it was under way: one tab signed out
 * (`/session/end`, /account's "Sign out") while another tab signed in again (`prompt=login`) or
 * showed a consent page over that session. oidc-provider binds such an interaction to its session
 * and refuses it once the session is gone ("session not found", from interactionDetails and again
 * at the resume): every page said "This sign-in has ended", the app never got an answer, and the
 * phone's approval was answered "approved" for nothing (red-team, browser journeys).
 *
 * - A login prompt is a whole sign-in (password and second factor; nothing of the ended session
 *   counts towards it): its binding is dropped and it finishes into a new session, as it would
 *   have in a browser that had none.
 * - Any other prompt (consent) stood on the ended session's sign-in: the app is told
 *   `login_required` (it may start again), on a page request; a script's request keeps the 400.
 *
 * Only in the browser that started the interaction (browser-binding.ts), and only when its session
 * is really gone: the ended session's own uid is looked up again.
 */

type Bound = {
  uid: string;
  exp: number;
  returnTo: string;
  params: Record<string, unknown>;
  prompt: { name: string };
  session?: { uid?: string; accountId?: string; cookie?: string };
  grantId?: string;
  result?: Record<string, unknown>;
  save(ttl: number): Promise<unknown>;
};

/** What is left of an interaction's life (`exp`), on oidc-provider's clock (helpers/epoch_time.js): the system's, in seconds. */
export const secondsLeft = (exp: number): number => exp - Math.floor(Date.now() / 1000);

/** oidc-provider's refusal of an interaction whose session is gone (provider.js #getInteraction). */
export const sessionGone = (err: unknown): boolean =>
  err instanceof errors.SessionNotFound && (err as { error_description?: string }).error_description === 'session not found';

/**
 * After interactionDetails refused with `sessionGone`: true when the interaction of the URL was
 * unbound from its ended session and may be read again; throws SeeOther (the app's
 * `login_required`) for a page of another prompt; false when nothing applies.
 */
export async function unbindEndedSession(ctx: Context, deps: Pick<InteractionDeps, 'provider'>): Promise<boolean> {
  const uid = ctx.params.uid;
  if (typeof uid !== 'string') return false;
  const interaction = (await deps.provider.Interaction.find(uid)) as unknown as Bound | undefined;
  if (!interaction || !browserBinding(deps.provider.issuer).startedHere(ctx, interaction.params)) return false;
  const ended = interaction.session?.uid;
  // Unbound meanwhile by another request of this browser (a reload, the page's poll): read it again
  // (red-team: the loser of that race said "This sign-in has ended" to a sign-in that went on).
  if (!ended) return true;
  if (await deps.provider.Session.findByUid(ended)) return false;
  const ttl = secondsLeft(interaction.exp);
  if (ttl <= 0) return false;
  delete interaction.session;
  delete interaction.grantId;
  if (interaction.prompt.name === 'login') {
    await interaction.save(ttl);
    return true;
  }
  if (formatFor(ctx) !== 'html') return false;
  interaction.result = { error: 'login_required', error_description: 'the session this request belonged to was signed out' };
  await interaction.save(ttl);
  throw new SeeOther(interaction.returnTo);
}
