import Router from '@koa/router';
import * as oidc from 'openid-client';
import type { Context } from 'koa';
import type { Views } from '../http/views.js';
import { rpLogin } from '../rp/oidc-login.js';

/** The quickstart's demo app: signs in to this IdP like any outside app and shows what it got. */
export function demoRelyingParty(opts: { issuer: string; clientId: string; basePath: string; views: Views; appName: string }): Router {
  const router = new Router({ prefix: opts.basePath });
  const render = (ctx: Context, data: Record<string, unknown>) => {
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = opts.views.render('demo', { title: opts.appName, appName: opts.appName, basePath: opts.basePath, ...data });
  };
  router.get('/', (ctx) => render(ctx, { claims: null }));
  rpLogin(router, {
    ...opts,
    scope: 'openid profile email',
    onError: (ctx, error) => render(ctx, { error }),
    async onSignedIn(ctx, tokens, config) {
      const claims = tokens.claims()!;
      const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      const logout = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${opts.issuer}${opts.basePath}` });
      render(ctx, { claims, userinfo, logoutUrl: logout.href });
    },
  });
  return router;
}
