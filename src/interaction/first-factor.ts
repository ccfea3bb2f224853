import type { Context } from 'koa';
import { z } from 'zod';
import { HttpError } from '../http/errors.js';
import { csrfField, parseForm, textField } from '../http/form.js';
import { t } from '../i18n/index.js';
import type { InteractionDeps } from './deps.js';
import { checkCsrf, finishLogin, loadInteraction, seeOther, signInRef, throttleView, tooMany, type LoadedInteraction } from './load.js';
import { answerPasscode } from './second-factor/passcode.js';
import { answerPush } from './second-factor/push.js';
import { isUpstreamApp, refusePassword } from './upstream.js';

/** OIDC `login_hint` prefills the username (never trusted: it is only the field's first value). */
const hintedUsername = (it: LoadedInteraction): string | undefined => {
  const hint = it.details.params.login_hint;
  return typeof hint === 'string' && hint.length <= 100 && !/[\u0000-\u001f]/.test(hint) ? hint.trim() || undefined : undefined;
};

export function renderLogin(ctx: Context, deps: InteractionDeps, it: LoadedInteraction, extra: { error?: string; username?: string; throttle?: ReturnType<typeof throttleView> } = {}) {
  const username = extra.username ?? hintedUsername(it);
  ctx.type = 'html';
  ctx.body = deps.views.render('login', {
    uid: it.uid, csrf: deps.csrf.token(it.uid), clientName: it.clientName, singleForm: it.policy.form === 'single-form', ...extra, username,
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
  if (it.details.prompt.name !== 'login') throw new HttpError(400, 'invalid_request', t('error.noPasswordNow'));
  checkCsrf(ctx, deps, it.uid);
  if (isUpstreamApp(deps, it)) return refusePassword(ctx, it);
  const { username, password, passcode } = parseForm(ctx, loginForm);
  const result = await deps.signin.password(signInRef(ctx, it), { username, password, passcode });
  const again = (status: number, error: string) => { ctx.status = status; renderLogin(ctx, deps, it, { error, username }); };
  switch (result.kind) {
    case 'missing': return again(400, t('login.missing'));
    case 'throttled':
      tooMany(ctx, result.retryAfterSeconds);
      return renderLogin(ctx, deps, it, { error: t('login.tooMany'), throttle: throttleView(deps, result.retryAfterSeconds, 'throttle.signInLocked'), username });
    // The same words for an unknown user, a wrong password and a disabled account.
    case 'failed': return again(401, t('login.failed'));
    case 'finished': return finishLogin(ctx, it, result);
    case 'refused': throw new HttpError(403, 'no_device', t('error.no_device', { app: it.clientName }));
    case 'bad-passcode-format': return again(400, t('login.badPasscodeFormat'));
    case 'recover': return seeOther(ctx, it.uid, 'recovery');
    case 'choose-second-factor': return seeOther(ctx, it.uid, 'second-factor');
    // The single form's second factor is done here and now: no second request re-reads the interaction.
    case 'push': return answerPush(ctx, it.uid, result.push);
    case 'passcode': return answerPasscode(ctx, deps, it, result.passcode);
  }
}
