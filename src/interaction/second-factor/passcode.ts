import type { Context } from 'koa';
import { z } from 'zod';
import { HttpError } from '../../http/errors.js';
import { parseForm } from '../../http/form.js';
import type { PasscodeResult } from '../../signin/index.js';
import type { InteractionDeps } from '../deps.js';
import { checkCsrf, finishLogin, requireFirstFactor, signInGone, tooMany, type LoadedInteraction } from '../load.js';

const tooManyPasscodes = (seconds: number) =>
  seconds > 60
    ? `Too many wrong passcodes. Passcodes are locked for ${Math.ceil(seconds / 60)} minutes: approve the request on your phone instead.`
    : `Too many wrong passcodes. Wait ${seconds} seconds and try again, or approve the request on your phone.`;

const TOO_MANY_FOR_THIS_SIGNIN = 'Too many wrong passcodes. Go back to the app and sign in again.';
const passcodeForm = z.object({
  passcode: z.string({ error: 'The passcode must be text of 6 or 8 digits.' }).max(16, 'The passcode must be text of 6 or 8 digits.'),
});

const REPLAYED = 'This passcode was already used. Wait for the next one and type it.';
const WRONG = 'That passcode is not right. Check the code in your authenticator app and try again.';

function render(ctx: Context, deps: InteractionDeps, it: LoadedInteraction, error: string | null) {
  ctx.type = 'html';
  ctx.body = deps.views.render('passcode', { title: 'Enter a passcode', uid: it.uid, csrf: deps.csrf.token(it.uid), clientName: it.clientName, error });
}

/** The core's passcode result as this door shows it (also for the single form's passcode). */
export async function answerPasscode(ctx: Context, deps: InteractionDeps, it: LoadedInteraction, result: PasscodeResult): Promise<void> {
  const show = (status: number, error: string) => { ctx.status = status; render(ctx, deps, it, error); };
  switch (result.kind) {
    case 'finished':
    case 'refused': return finishLogin(ctx, deps, result);
    case 'malformed': return show(400, 'A passcode has 6 or 8 digits.');
    case 'gone': throw signInGone();
    case 'locked-for-signin': throw new HttpError(429, 'too_many_attempts', TOO_MANY_FOR_THIS_SIGNIN);
    case 'throttled':
      tooMany(ctx, result.retryAfterSeconds);
      return render(ctx, deps, it, tooManyPasscodes(result.retryAfterSeconds));
    case 'wrong': return show(401, result.replayed ? REPLAYED : WRONG);
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
