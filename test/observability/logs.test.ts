import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.js';
import { matchNumberOf, PushWorld } from '../support/push-world.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * The JSON logs as an operator reads them: one request id per request, on every line written
 * while it is served and in the X-Request-Id response header; a proxy's id kept only when it is
 * plainly an id; and none of the secrets a sign-in types or carries (passwords, passcodes,
 * cookies, Authorization headers, codes and tokens) anywhere in the output.
 */
describe('JSON logs with request ids and no secrets', () => {
  let w: PushWorld;
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) { raw.push(l); lines.push(JSON.parse(l) as Record<string, unknown>); }
      done();
    },
  });

  beforeAll(async () => { w = await PushWorld.start({ idp: { idp: { logger: createLogger('trace', sink) } } }); });
  afterAll(() => w?.close());

  it('echoes a well-formed X-Request-Id and replaces any other with a fresh one', async () => {
    const kept = await fetch(`${w.t.url}/healthz`, { headers: { 'x-request-id': 'lb-3f2a9c1e.77:01' } });
    expect(kept.headers.get('x-request-id')).toBe('lb-3f2a9c1e.77:01');
    for (const offered of ['short', 'has space in it', 'x'.repeat(65), '"},{"level":60', 'ünïcode-id-12345']) {
      const res = await fetch(`${w.t.url}/healthz`, { headers: { 'x-request-id': encodeURI(offered) === offered ? offered : encodeURI(offered) } });
      const id = res.headers.get('x-request-id')!;
      expect(id).toMatch(UUID);
    }
    const none = await fetch(`${w.t.url}/.well-known/openid-configuration`);
    expect(none.headers.get('x-request-id')).toMatch(UUID);
    // Two requests, two ids.
    expect((await fetch(`${w.t.url}/healthz`)).headers.get('x-request-id')).not.toBe(none.headers.get('x-request-id'));
  });

  it('puts the request id on every line of a request, and no secret on any line', async () => {
    const secrets: string[] = [PushWorld.password, 'test-rp-secret-0123456789abcdef0123456789'];
    const { phone, subscription } = await w.enrollPhone();
    secrets.push(phone.totpSecret);
    const from = lines.length;

    const wrong = 'a wrong password 42';
    secrets.push(wrong);
    const bad = await w.startSignIn({ password: wrong });
    expect(bad.next.res.status).toBe(401);

    const push = await w.startSignIn();
    const wait = await push.browser.submit(push.next.body, /\/push$/, {});
    const msg = await w.pushService.waitForMessage(subscription!.id);
    const cid = (msg.payload as { cid: string }).cid;
    expect((await phone.respond(cid, 'approve', { number: matchNumberOf(wait.body)! })).status).toBe(200);
    const done = await push.browser.go(`/interaction/${push.uid}/wait`);
    const tokens = await w.tokens(done.url, push.verifier, push.state);
    secrets.push(new URL(done.url).searchParams.get('code')!, tokens.access_token, tokens.id_token!, push.verifier);
    const userinfo = await fetch(`${w.t.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}`, cookie: push.browser.cookieHeader() } });
    expect(userinfo.status).toBe(200);
    // Every cookie value, except oidc-provider's interaction cookie, whose value is the uid that is
    // in the page's own address anyway (/interaction/<uid>), and `idp_app`, whose value is the app's
    // client id (the "Back to <app>" link, src/interaction/back-to-app.ts), in every authorize URL;
    // their signature cookies are secrets.
    for (const c of push.browser.cookieHeader().split('; ')) {
      const name = c.slice(0, c.indexOf('='));
      const value = c.slice(c.indexOf('=') + 1);
      if (value !== push.uid && name !== 'idp_app') secrets.push(value);
    }

    const typed = await w.startSignIn();
    const page = await typed.browser.go(`/interaction/${typed.uid}/passcode`);
    const passcode = phone.currentTotp();
    secrets.push(passcode);
    const finished = await typed.browser.submit(page.body, /\/passcode$/, { passcode });
    expect(finished.url).toMatch(/\/cb\?code=/);

    // Lines written while a request was served carry its id; the request's own line names it.
    const during = lines.slice(from);
    const requestLines = during.filter((l) => l.msg === 'request');
    expect(requestLines.length).toBeGreaterThan(10);
    for (const l of requestLines) expect(l.reqId).toMatch(UUID);
    const audited = during.filter((l) => typeof l.audit === 'string');
    expect(audited.map((l) => l.audit)).toEqual(expect.arrayContaining(['signin.failure', 'push.sent', 'push.approved', 'signin.success']));
    const servedIds = new Set(requestLines.map((l) => l.reqId));
    for (const l of audited) expect({ audit: l.audit, servedIds: servedIds.has(l.reqId) }).toEqual({ audit: l.audit, servedIds: true });
    const failure = audited.find((l) => l.audit === 'signin.failure')!;
    const its = requestLines.find((l) => l.reqId === failure.reqId)!;
    expect(its).toMatchObject({ method: 'POST', status: 401 });
    expect(String(its.path)).toMatch(/^\/interaction\/[^/]+\/login$/);

    const everything = raw.join('\n');
    for (const secret of secrets) expect({ secret, found: everything.includes(secret) }).toEqual({ secret, found: false });
  });
});
