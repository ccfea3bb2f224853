import Router from '@koa/router';
import type { Context } from 'koa';
import { HttpError } from '../http/errors.js';
import { formBody } from '../http/body.js';
import { abort, postConsent, renderConsent } from './consent.js';
import type { InteractionDeps } from './deps.js';
import { postLogin, renderLogin } from './first-factor.js';
import { loadInteraction, seeOther } from './load.js';
import { isUpstreamApp, startUpstream } from './upstream.js';
import { t } from '../i18n/index.js';

/** Extra routes of later steps (the second factor) mounted on the same router. */
export type InteractionExtension = (router: Router, deps: InteractionDeps) => void;

/** GET /interaction/:uid — shows the page for where this sign-in stands. */
async function show(ctx: Context, deps: InteractionDeps): Promise<void> {
  const it = await loadInteraction(ctx, deps, { withState: true });
  ctx.set('Cache-Control', 'no-store');
  switch (it.details.prompt.name) {
    case 'login': {
      // Past the password already: the second factor's choice.
      if (it.found) return seeOther(ctx, it.uid, 'second-factor');
      if (isUpstreamApp(deps, it)) return startUpstream(ctx, deps, it); // MFA-only: the upstream's hint, no password
      return renderLogin(ctx, deps, it);
    }
    case 'consent':
      return renderConsent(ctx, deps, it);
    default:
      throw new HttpError(400, 'invalid_request', t('error.unsupportedStep', { step: it.details.prompt.name }));
  }
}

export function interactionRoutes(deps: InteractionDeps, extensions: InteractionExtension[] = []): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  router.use(async (ctx, next) => {
    if (!/^[A-Za-z0-9_-]{10,64}$/.test(ctx.params.uid ?? '')) throw new HttpError(400, 'invalid_request', t('error.malformedId'));
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  router.get('/', (ctx) => show(ctx, deps));
  router.post('/login', formBody(), (ctx) => postLogin(ctx, deps));
  router.post('/confirm', formBody(), (ctx) => postConsent(ctx, deps));
  router.post('/abort', formBody(), (ctx) => abort(ctx, deps));
  for (const extend of extensions) extend(router, deps);
  return router;
}
