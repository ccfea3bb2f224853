import type { Context } from 'koa';
import { formBody } from '../../http/body.js';
import type { InteractionDeps } from '../deps.js';
import { requireFirstFactor, seeOther } from '../load.js';
import type { InteractionExtension } from '../routes.js';
import { getPasscode, postPasscode } from './passcode.js';
import { postPush } from './push.js';
import { getRecovery, postRecovery } from './recovery.js';
import { getStatus, getWait } from './wait.js';

/** GET /interaction/:uid/second-factor — the two-step form's choice: send a push, or type a passcode. */
async function getChoice(ctx: Context, deps: InteractionDeps): Promise<void> {
  const { it, s } = await requireFirstFactor(ctx, deps);
  if (s.state.challengeId) return seeOther(ctx, it.uid, 'wait');
  // Nothing about the user's devices (names, how many) before the second factor: whoever has only
  // the password would learn which phones to steal or imitate ("Alice's iPhone 15").
  ctx.type = 'html';
  ctx.body = deps.views.render('second-factor', {
    uid: it.uid, csrf: deps.csrf.token(it.uid), clientName: it.clientName,
    // "Password accepted" only where one was typed here (red-team, Entra round: an Entra or broker sign-in was told so).
    passwordTyped: s.state.firstFactor.method === 'pwd',
  });
}

/** The second factor's steps, mounted on the interaction router (sign-in steps 3-10 (docs/architecture.md)). */
export const secondFactorRoutes: InteractionExtension = (router, deps) => {
  router.get('/second-factor', (ctx) => getChoice(ctx, deps));
  router.post('/push', formBody(), (ctx) => postPush(ctx, deps));
  router.get('/wait', (ctx) => getWait(ctx, deps));
  router.get('/push/status', (ctx) => getStatus(ctx, deps));
  router.get('/passcode', (ctx) => getPasscode(ctx, deps));
  router.post('/passcode', formBody(), (ctx) => postPasscode(ctx, deps));
  router.get('/recovery', (ctx) => getRecovery(ctx, deps));
  router.post('/recovery', formBody(), (ctx) => postRecovery(ctx, deps));
};
