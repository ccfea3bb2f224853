import type { Context } from 'koa';
import { z } from 'zod';
import { HttpError } from '../../http/errors.js';
import { parseForm } from '../../http/form.js';
import type { PasscodeResult } from '../../signin/index.js';
import { t } from '../../i18n/index.js';
import type { InteractionDeps } from '../deps.js';
import { checkCsrf, finishLogin, requireFirstFactor, signInGone, throttleView, tooMany, type LoadedInteraction } from '../load.js';

const passcodeForm = z.object({
  passcode: z.string({ error: 'The passcode must be text of 6 or 8 digits.' }).max(16, 'The passcode must be text of 6 or 8 digits.'),
});

function render(ctx: Context, deps: InteractionDeps, it: LoadedInteraction, error: string | null, throttle: ReturnType<typeof throttleView> | null = null) {
  ctx.type = 'html';
  ctx.body = deps.views.render('passcode', { uid: it.uid, csrf: deps.csrf.token(it.uid), clientName: it.clientName, error, throttle });
}

/** The core's passcode result as this door shows it (also for the single form's passcode). */
export async function answerPasscode(ctx: Context, deps: InteractionDeps, it: LoadedInteraction, result: PasscodeResult): Promise<void> {
  const show = (status: number, error: string) => { ctx.status = status; render(ctx, deps, it, error); };
  switch (result.kind) {
    case 'finished':
    case 'refused': return finishLogin(ctx, it, result, deps);
    case 'malformed': return show(400, t('passcode.malformed'));
    case 'gone': throw signInGone();
    case 'locked-for-signin': throw new HttpError(429, 'too_many_attempts', t('passcode.tooManyForSignIn'));
    case 'throttled':
      tooMany(ctx, result.retryAfterSeconds);
      if (result.capped) return render(ctx, deps, it, t('passcode.capped'));
      return render(ctx, deps, it, t('passcode.tooMany'), throttleView(deps, result.retryAfterSeconds, 'throttle.passcodesLocked'));
    case 'wrong': return show(401, t(result.replayed ? 'passcode.replayed' : 'passcode.wrong'));
  }
}

/** GET /interaction/:uid/passcode — the fallback that always works: type the code the app shows. */
export async function getPasscode(ctx: Context, deps: InteractionDeps): Promise<void> {
  const { it } = await requireFirstFactor(ctx, deps);
  render(ctx, deps, it, null);
}

/** POST /interaction/:uid/passcode — a 6- or 8-digit TOTP from any active device (signin/passcode.ts). */
export async function postPasscode(ctx: Context, deps: InteractionDeps): Promise<void> {
  const { it, s } = await requireFirstFactor(ctx, deps);
  checkCsrf(ctx, deps, it.uid);
  const { passcode } = parseForm(ctx, passcodeForm);
  return answerPasscode(ctx, deps, it, await deps.signin.passcode(s, passcode));
}
