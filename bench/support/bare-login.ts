/**
 * The least login a bare oidc-provider needs for a password sign-in, as its README's example
 * routes do it: GET /interaction/:uid is a form, POST /interaction/:uid/login checks the
 * password (argon2id, our checkPassword) and finishes the interaction with the login and a grant
 * for the requested scope (no consent page, as the benchmark's relying app has none). Nothing
 * else: no throttle, no audit row, no CSRF token, no escaping beyond the uid. It is the floor the
 * sign-in benchmark measures our password-only and push sign-ins against.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import { checkPassword } from '../../src/accounts/passwords.js';
import type { AccountStore } from '../../src/accounts/store.js';

const PAGE = /^\/interaction\/([A-Za-z0-9_-]{1,64})(\/login)?$/;

async function body(req: IncomingMessage): Promise<URLSearchParams> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > 8192) throw new Error('body too large');
  }
  return new URLSearchParams(text);
}

function form(res: ServerResponse, uid: string, status = 200): void {
  res.statusCode = status;
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end(`<!doctype html><html><body><form method="post" action="/interaction/${uid}/login">`
    + '<input name="username"><input name="password" type="password"><button>Sign in</button></form></body></html>');
}

/** A request handler: /interaction/* here, everything else to the provider. */
export function bareLogin(provider: Provider, accounts: AccountStore): (req: IncomingMessage, res: ServerResponse) => void {
  const callback = provider.callback();
  const handle = async (req: IncomingMessage, res: ServerResponse, uid: string, post: boolean) => {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) throw new Error('interaction mismatch');
    if (!post) return form(res, uid);
    const fields = await body(req);
    const account = await accounts.findByUsername(fields.get('username') ?? '');
    const ok = await checkPassword(account?.passwordHash ?? null, fields.get('password') ?? '');
    if (!account || !ok || account.disabled) return form(res, uid, 401);
    const clientId = String(details.params.client_id);
    const grant = new provider.Grant({ accountId: account.id, clientId });
    grant.addOIDCScope(String(details.params.scope));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { login: { accountId: account.id }, consent: { grantId } }, { mergeWithLastSubmission: false });
  };
  return (req, res) => {
    const m = PAGE.exec(new URL(req.url ?? '/', 'http://x').pathname);
    if (!m) return void callback(req, res);
    handle(req, res, m[1]!, req.method === 'POST' && m[2] !== undefined).catch((err: unknown) => {
      res.statusCode = 400;
      res.end(String((err as Error).message));
    });
  };
}
