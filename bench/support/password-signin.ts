/**
 * A password-only sign-in as the sign-in benchmark drives it for its floors: authorize -> login
 * page -> password -> (the server finishes the interaction) -> resume -> callback -> token. The
 * same HTTP steps against our IdP (a relying app whose policy lets an account without an
 * authenticator in with its password) and against a bare oidc-provider with the least login
 * (bench/support/bare-login.ts).
 */
import type http from 'node:http';
import { Browser, request } from './http.js';
import { authorizeUrl } from './signin.js';
import { basicAuth, pkce, RP_CALLBACK, RP_SECRET } from './world.js';

export async function passwordSignIn(agent: http.Agent, issuer: string, clientId: string, username: string, password: string): Promise<void> {
  const browser = new Browser(agent, issuer);
  const { verifier, challenge } = pkce();
  const state = verifier.slice(0, 22);
  const login = await browser.go('GET', authorizeUrl(issuer, clientId, challenge, state));
  if (login.res.status !== 200 || !/\/interaction\//.test(login.url)) throw new Error(`authorize did not reach the login page: ${login.res.status} ${login.url}`);
  const done = await browser.submit(login.res.body, /\/login$/, { username, password });
  if (!done.url.startsWith(`${RP_CALLBACK}?`)) throw new Error(`password did not reach the callback: ${done.res.status} ${done.url} ${done.res.body.slice(0, 200)}`);
  const cb = new URL(done.url);
  const code = cb.searchParams.get('code');
  if (!code || cb.searchParams.get('state') !== state) throw new Error(`bad callback ${done.url}`);
  const res = await request(agent, 'POST', `${issuer}/token`, {
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(clientId, RP_SECRET), accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: RP_CALLBACK, code_verifier: verifier }).toString(),
  });
  if (res.status !== 200 || !(JSON.parse(res.body) as { id_token?: string }).id_token) throw new Error(`token endpoint answered ${res.status}: ${res.body.slice(0, 200)}`);
}
