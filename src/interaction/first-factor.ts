import type { Context } from 'koa';
import { z } from 'zod';
import { HttpError } from '../http/errors.js';
import { csrfField, parseForm, textField } from '../http/form.js';
import type { InteractionDeps } from './deps.js';
import { checkCsrf, finishLogin, loadInteraction, seeOther, signInRef, tooMany, type LoadedInteraction } from './load.js';
import { answerPasscode } from './second-factor/passcode.js';
import { answerPush } from './second-factor/push.js';

/** The same words for an unknown user, a wrong password and a disabled account. */
const LOGIN_FAILED = 'The username or password is not right.';

const tooManyAttempts = (seconds: number) =>
  seconds > 60
    ? `Too many failed attempts. Sign-in is locked for ${Math.ceil(seconds / 60)} minutes.`
    : `Too many failed attempts. Wait ${seconds} seconds and try again.`;

export function renderLogin(ctx: Context, deps: InteractionDeps, it: LoadedInteraction, extra: { error?: string; username?: string } = {}) {
  ctx.type = 'html';
  ctx.body = deps.views.render('login', {
    title: 'Sign in', uid: it.uid, csrf: deps.csrf.token(it.uid), clientName: it.clientName, singleForm: it.policy.form === 'single-form', ...extra,
  });
}

/** The login form: the passcode only on the single form (an empty one there asks for a push). */
const loginForm = z.object({
  csrf: csrfField,
  username: textField('username', 100).transform((u) => u.trim()),
  password: textField('password', 256),
  passcode: textField('passcode', 16),
});

/** POST /interaction/:uid/login — sign-in step 2 (docs/architecture.md): the password, then what the core says comes next. */
export async function postLogin(ctx: Context, deps: InteractionDeps): Promise<void> {
  const it = await loadInteraction(ctx, deps);
  if (it.details.prompt.name !== 'login') throw new HttpError(400, 'invalid_request', 'This sign-in does not expect a password now.');
  checkCsrf(ctx, deps, it.uid);
  const { username, password, passcode } = parseForm(ctx, loginForm);
  const result = await deps.signin.password(signInRef(ctx, it), { username, password, passcode });
  const again = (status: number, error: string) => { ctx.status = status; renderLogin(ctx, deps, it, { error, username }); };
  switch (result.kind) {
    case 'missing': return again(400, 'Enter your username and password.');
    case 'throttled': tooMany(ctx, result.retryAfterSeconds); return renderLogin(ctx, deps, it, { error: tooManyAttempts(result.retryAfterSeconds), username });
    case 'failed': return again(401, LOGIN_FAILED);
    case 'finished': return finishLogin(ctx, deps, result);
    case 'refused': throw new HttpError(403, 'no_device', `${it.clientName} requires a second factor, and you have no authenticator enrolled. Ask your administrator for an enrollment code.`);
    case 'bad-passcode-format': return again(400, 'A passcode has 6 or 8 digits. Leave it empty to get a push instead.');
    case 'recover': return seeOther(ctx, it.uid, 'recovery');
    case 'choose-second-factor': return seeOther(ctx, it.uid, 'second-factor');
    // The single form's second factor is done here and now: no second request re-reads the interaction.
    case 'push': return answerPush(ctx, it.uid, result.push);
    case 'passcode': return answerPasscode(ctx, deps, it, result.passcode);
  }
}
