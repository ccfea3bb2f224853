import type { Context } from 'koa';
import type { PushResult } from '../../signin/index.js';
import type { InteractionDeps } from '../deps.js';
import { checkCsrf, requireFirstFactor, seeOther, signInGone } from '../load.js';

/** The core's push result as this door shows it: the waiting page, with a notice when none was sent. */
export function answerPush(ctx: Context, uid: string, result: PushResult): void {
  switch (result.kind) {
    case 'gone': throw signInGone();
    case 'refused': return seeOther(ctx, uid, `wait?notice=${result.notice}${result.until ? `&until=${result.until}` : ''}`);
    case 'sent':
    case 'already-approved': return seeOther(ctx, uid, 'wait');
  }
}

/**
 * POST /interaction/:uid/push — sign-in steps 4-5 (docs/architecture.md) (signin/push.ts): answers at once with the
 * waiting page; delivery goes on in the background and never breaks the sign-in.
 */
export async function postPush(ctx: Context, deps: InteractionDeps): Promise<void> {
  const { it, s } = await requireFirstFactor(ctx, deps);
  checkCsrf(ctx, deps, it.uid);
  answerPush(ctx, it.uid, await deps.signin.push(s));
}
