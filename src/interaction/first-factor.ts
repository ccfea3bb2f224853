import type { Context } from 'koa';
import { checkPassword } from '../accounts/passwords.js';
import { ACCOUNT_POLICY, IP_POLICY } from '../defences/throttle.js';
import { HttpError } from '../http/errors.js';
import { attemptNetwork } from '../net/ip.js';
import type { InteractionDeps } from './deps.js';
import { finishInteraction, loadInteraction, type LoadedInteraction } from './load.js';
import { nextAfterPassword } from './next-step.js';

/** The same words for an unknown user, a wrong password and a disabled account. */
export const LOGIN_FAILED = 'The username or password is not right.';

const tooManyAttempts = (seconds: number) =>
  seconds > 60
    ? `Too many failed attempts. Sign-in is locked for ${Math.ceil(seconds / 60)} minutes.`
    : `Too many failed attempts. Wait ${seconds} seconds and try again.`;

export function renderLogin(ctx: Context, deps: InteractionDeps, it: LoadedInteraction, extra: { error?: string; username?: string } = {}) {
  ctx.type = 'html';
  ctx.body = deps.views.render('login', {
    title: 'Sign in',
    uid: it.uid,
    csrf: deps.csrf.token(it.uid),
    clientName: it.clientName,
    singleForm: it.policy.form === 'single-form',
    ...extra,
  });
}

function formString(body: Record<string, unknown>, name: string, max: number): string {
  const value = body[name];
  if (value === undefined) return '';
  if (typeof value !== 'string') throw new HttpError(400, 'invalid_request', `The field "${name}" must be text.`);
  if (value.length > max) throw new HttpError(400, 'invalid_request', `The field "${name}" is too long.`);
  return value;
}

/** POST /interaction/:uid/login — step 2 of the journey: the password, then what comes next. */
export async function postLogin(ctx: Context, deps: InteractionDeps): Promise<void> {
  const it = await loadInteraction(ctx, deps);
  if (it.details.prompt.name !== 'login') throw new HttpError(400, 'invalid_request', 'This sign-in does not expect a password now.');
  const body = (ctx.request.body ?? {}) as Record<string, unknown>;
  if (!deps.csrf.valid(it.uid, body.csrf)) throw new HttpError(403, 'csrf', 'The form has expired. Go back and try again.');
  const username = formString(body, 'username', 100).trim();
  const password = formString(body, 'password', 256);
  const passcode = formString(body, 'passcode', 16);
  if (!username || !password) {
    ctx.status = 400;
    return renderLogin(ctx, deps, it, { error: 'Enter your username and password.', username });
  }

  // Password guessing: counted per username (known or not, so the answer reveals nothing) and per
  // IP, reserved before the check: each attempt counts as a failure up front, atomically, so N
  // parallel guesses see 0, 1, ..., N-1 failures before them and cannot all pass the gate.
  // Keyed by the account the name finds, when it finds one: PostgreSQL's lower() folds more
  // spellings onto one account ("alİce" is alice) than toLowerCase() keeps apart, and each
  // spelling would otherwise count apart.
  const account = await deps.accounts.findByUsername(username);
  const userKey = `thr:user:${(account?.username ?? username).toLowerCase()}`;
  const ipKey = `thr:ip:${attemptNetwork(ctx.ip)}`; // an IPv6 client counts per /64
  const gate = await deps.throttle.reserve([{ key: userKey, policy: ACCOUNT_POLICY }, { key: ipKey, policy: IP_POLICY }]);
  if (!gate.allowed) {
    const seconds = Math.ceil(('retryAfterMs' in gate ? gate.retryAfterMs : 0) / 1000); // no cap here: always a wait
    await deps.audit.record({ type: 'signin.throttled', clientId: it.clientId, ip: ctx.ip, detail: { reason: gate.reason, retryAfterSeconds: seconds } });
    ctx.status = 429;
    ctx.set('Retry-After', String(seconds));
    return renderLogin(ctx, deps, it, { error: tooManyAttempts(seconds), username });
  }

  const passwordOk = await checkPassword(account?.passwordHash ?? null, password);
  if (!account || !passwordOk || account.disabled) {
    // The reservation stands as the failure.
    await deps.audit.record({ type: 'signin.failure', accountId: account?.id ?? null, clientId: it.clientId, ip: ctx.ip, detail: { factor: 'pwd' } });
    ctx.status = 401;
    return renderLogin(ctx, deps, it, { error: LOGIN_FAILED, username });
  }
  // Right: the username starts afresh (as before), and the IP gets back the failure reserved.
  await deps.throttle.reset(userKey);
  await gate.release([ipKey]);

  // Posting the password again on the same page must not reset this sign-in's push and passcode limits.
  // (put keeps the push and passcode counters while the account is the same.)
  const prior = await deps.signins.get(it.uid);
  const kept = prior?.accountId === account.id ? prior : null;
  await deps.signins.put(it.uid, {
    accountId: account.id, firstFactor: { method: 'pwd', at: Date.now() }, challengeId: kept?.challengeId ?? null,
  }, it.ttlSeconds);

  const next = nextAfterPassword({
    policy: it.policy,
    activeDevices: (await deps.secondFactor.devices.listByAccount(account.id)).filter((d) => d.status === 'active').length,
    everEnrolled: await deps.secondFactor.devices.hasEverHad(account.id),
    passcode: it.policy.form === 'single-form' ? passcode : undefined,
  });
  switch (next.kind) {
    case 'finish-password-only':
      await deps.signins.delete(it.uid);
      await deps.audit.record({ type: 'signin.success', accountId: account.id, clientId: it.clientId, ip: ctx.ip, detail: { amr: ['pwd'] } });
      return finishInteraction(ctx, deps, { login: { accountId: account.id, amr: ['pwd'], acr: it.policy.acr.password } });
    case 'refuse-no-device':
      await deps.audit.record({ type: 'signin.refused', accountId: account.id, clientId: it.clientId, ip: ctx.ip, detail: { reason: 'no_device' } });
      await deps.signins.delete(it.uid);
      throw new HttpError(403, 'no_device', `${it.clientName} requires a second factor, and you have no authenticator enrolled. Ask your administrator for an enrollment code.`);
    case 'bad-passcode-format':
      ctx.status = 400;
      await deps.signins.delete(it.uid);
      return renderLogin(ctx, deps, it, { error: 'A passcode has 6 or 8 digits. Leave it empty to get a push instead.', username });
    case 'recover': // every authenticator lost: a recovery code, or the admin's enrollment code
      ctx.status = 303;
      return ctx.redirect(`/interaction/${it.uid}/recovery`);
    case 'choose-second-factor':
      ctx.status = 303;
      return ctx.redirect(`/interaction/${it.uid}/second-factor`);
    case 'send-push':
      ctx.status = 307; // keeps the POST (and its CSRF token) for the push step
      return ctx.redirect(`/interaction/${it.uid}/push`);
    case 'check-passcode':
      ctx.status = 307;
      return ctx.redirect(`/interaction/${it.uid}/passcode`);
  }
}
