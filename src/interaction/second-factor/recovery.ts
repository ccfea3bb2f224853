import type { Context } from 'koa';
import { z } from 'zod';
import { HttpError } from '../../http/errors.js';
import { parseForm } from '../../http/form.js';
import { t } from '../../i18n/index.js';
import type { InteractionDeps } from '../deps.js';
import { checkCsrf, finishLogin, requireFirstFactor, signInGone, throttleView, tooMany, type LoadedInteraction } from '../load.js';

/** Recovery codes (signin/recovery.ts): the way back in after losing every authenticator. */

const BAD_CODE = 'The recovery code must be text of 16 letters and digits.';
const recoveryForm = z.object({ code: z.string({ error: BAD_CODE }).max(64, BAD_CODE) });

function render(ctx: Context, deps: InteractionDeps, it: LoadedInteraction, view: { noDevice: boolean; error: string | null; throttle?: ReturnType<typeof throttleView> }) {
  ctx.type = 'html';
  ctx.body = deps.views.render('recovery', {
    uid: it.uid, csrf: deps.csrf.token(it.uid), clientName: it.clientName, ...view,
  });
}

/** GET /interaction/:uid/recovery — also where a sign-in lands when every authenticator is gone. */
export async function getRecovery(ctx: Context, deps: InteractionDeps): Promise<void> {
  const { it, s } = await requireFirstFactor(ctx, deps);
  render(ctx, deps, it, { noDevice: await deps.signin.noDevice(s), error: null });
}

/** POST /interaction/:uid/recovery — one code, used once (atomically), then the sign-in finishes. */
export async function postRecovery(ctx: Context, deps: InteractionDeps): Promise<void> {
  const { it, s } = await requireFirstFactor(ctx, deps);
  checkCsrf(ctx, deps, it.uid);
  const { code } = parseForm(ctx, recoveryForm);
  const result = await deps.signin.recoveryCode(s, code);
  switch (result.kind) {
    case 'finished':
    case 'refused': return finishLogin(ctx, it, result, deps);
    case 'gone': throw signInGone();
    case 'locked-for-signin': throw new HttpError(429, 'too_many_attempts', t('recovery.tooManyForSignIn'));
    case 'throttled': {
      const seconds = result.retryAfterSeconds;
      tooMany(ctx, seconds);
      return render(ctx, deps, it, { noDevice: result.noDevice, error: t('recovery.tooMany'), throttle: throttleView(deps, seconds) });
    }
    case 'wrong':
      ctx.status = 401;
      return render(ctx, deps, it, { noDevice: result.noDevice, error: t('recovery.wrong') });
  }
}
