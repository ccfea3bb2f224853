import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { newestChallenge, signedInToWaitingPage } from './helpers.js';

/**
 * The waiting page's long-poll is held before Koa (src/http/long-poll.ts), so it is a door of its
 * own. Here it is attacked as someone who knows the victim's uid (it is in the page's URL, which
 * leaks through history, screenshots and referrers) would: two hundred polls at once, from the
 * victim's browser, from the attacker's own browser, with forged and odd cookies, with raw bytes
 * in the path, half of them abandoned mid-hold. The victim's page must still get its answer, the
 * attacker nothing but refusals, and nobody a 5xx.
 */
describe('the raw long-poll under a flood of parallel and hostile polls', () => {
  let w: PushWorld;
  let port: number;
  const agent = new Agent({ keepAlive: false, maxSockets: 1000 });

  beforeAll(async () => {
    w = await PushWorld.start({ idp: { idp: { longPollMs: 20_000 } } });
    port = Number(new URL(w.t.url).port);
  });
  afterAll(async () => {
    agent.destroy();
    await w?.close();
  });

  interface Answer { status: number; body: string }

  /** One GET over node:http; `abortAfterMs` destroys it mid-flight (a closed tab). */
  function get(path: string, cookie: string | null, abortAfterMs?: number): Promise<Answer | 'aborted'> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, agent, headers: { accept: 'application/json', ...(cookie === null ? {} : { cookie }) } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { body += c; });
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', (err) => (abortAfterMs === undefined ? reject(err) : resolve('aborted')));
      req.end();
      if (abortAfterMs !== undefined) setTimeout(() => { req.destroy(); resolve('aborted'); }, abortAfterMs);
    });
  }

  /** Bytes no HTTP client library would send, written to the socket as they are. */
  function raw(head: Buffer): Promise<Answer> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      // Written, not ended: a half-closed socket makes Node drop the request (httpAllowHalfOpen is off);
      // every request here says `Connection: close` or is refused by the parser, so the server closes.
      const s = connect(port, '127.0.0.1', () => s.write(head));
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('error', () => {}); // a reset after Node's parser refused: what was read is the answer
      s.on('close', () => {
        const text = Buffer.concat(chunks).toString('latin1');
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
        resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
      });
    });
  }

  it('the victim\'s page gets "approved", the attacker only refusals, nobody a 5xx, and the process keeps serving', async () => {
    const { phone } = await w.enrollPhone();
    const victim = await signedInToWaitingPage(w);
    const attacker = await w.startSignIn(); // the attacker's own, valid sign-in in another browser
    const path = `/interaction/${victim.uid}/push/status`;
    const victimCookie = victim.browser.cookieHeader();
    const attackerCookie = attacker.browser.cookieHeader();
    // The victim's cookies with one byte of each signature changed: the same names, forged values.
    const forged = victimCookie.replace(/(\.sig=)(.)/g, (_m, k: string, c: string) => `${k}${c === 'A' ? 'B' : 'A'}`);
    expect(forged).not.toBe(victimCookie);
    // The victim's cookie values without their signatures (as read off a screen or a log).
    const unsigned = victimCookie.split('; ').filter((c) => !c.includes('.sig=')).join('; ');
    expect(unsigned).toMatch(/_interaction=/);

    const held = Array.from({ length: 60 }, () => get(path, victimCookie));
    const abandoned = Array.from({ length: 40 }, (_, i) => get(path, victimCookie, 50 + i * 5));
    const crossed = Array.from({ length: 40 }, () => get(path, attackerCookie));
    const forgeries = Array.from({ length: 20 }, () => get(path, forged));
    const oddCookies = ['_interaction=\u00ff\u00fe', `_interaction=${'x'.repeat(4000)}`, '=; ;=;', '_interaction.sig=%00%00', unsigned]
      .flatMap((c) => Array.from({ length: 4 }, () => get(path, c)));
    const rawBytes = [
      Buffer.concat([Buffer.from(`GET /interaction/${victim.uid}`), Buffer.from([0xff, 0x00]), Buffer.from(`/push/status HTTP/1.1\r\nHost: x\r\nCookie: ${victimCookie}\r\n\r\n`)]),
      Buffer.from(`GET ${path} HTTP/1.1\r\nHost: x\r\nCookie: ${attackerCookie}\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`),
      Buffer.from(`GET ${path} HTTP/1.1\r\nHost: x\r\nCookie: ${attackerCookie}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`),
      Buffer.from(`GET http://evil.example${path} HTTP/1.1\r\nHost: evil.example\r\nCookie: ${attackerCookie}\r\nConnection: close\r\n\r\n`),
      Buffer.concat([Buffer.from(`GET ${path} HTTP/1.1\r\nHost: x\r\nCookie: `), Buffer.from([0xc3, 0x28, 0xa0, 0xa1]), Buffer.from('\r\nConnection: close\r\n\r\n')]),
    ].flatMap((b) => Array.from({ length: 4 }, () => raw(b)));

    // Refusals come back while the victim's polls are held (nothing waits behind a held poll).
    const refusals = await Promise.all([...crossed, ...forgeries, ...oddCookies]);
    const rawAnswers = await Promise.all(rawBytes);
    // Raw bytes in the request line are refused by Node's HTTP parser before any of our code: a 400,
    // or, when the rest of the request was still unread, the connection reset with it.
    for (const r of rawAnswers.slice(0, 4)) expect([0, 400]).toContain(r.status);
    for (const [i, r] of [...refusals, ...rawAnswers.slice(4)].entries()) {
      if (r === 'aborted') throw new Error('a refusal was never answered');
      if (r.status < 400) throw new Error(`refusal ${i} answered ${r.status} ${r.body}`);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(r.body).not.toMatch(/"status":"(approved|pending)"/);
    }
    for (const r of refusals.slice(0, 40)) expect(JSON.parse((r as Answer).body)).toMatchObject({ error: 'interaction_mismatch' });
    expect((await Promise.all(abandoned)).every((r) => r === 'aborted')).toBe(true);

    // Another user's sign-in is unaffected meanwhile: its page still reads its own status at once.
    expect(JSON.parse(((await get(`/interaction/${attacker.uid}/push/status?wait=0`, attackerCookie)) as Answer).body)).toMatchObject({ status: 'none' });
    expect(((await get('/healthz', null)) as Answer).status).toBe(200);

    // The victim approves: every poll still held answers "approved", none later than the rest.
    const ch = await newestChallenge(phone);
    expect((await phone.respond(ch.id, 'approve', { number: matchNumberOf(victim.wait.body)! })).status).toBe(200);
    const answers = await Promise.all(held);
    for (const r of answers) {
      expect(r).not.toBe('aborted');
      expect((r as Answer).status).toBe(200);
      expect(JSON.parse((r as Answer).body)).toEqual({ status: 'approved', reason: null, next: `/interaction/${victim.uid}/wait` });
    }

    // After the approval the attacker's cookie still gets nothing of the victim's sign-in, and the
    // victim's page finishes the sign-in exactly once.
    const late = (await get(path, attackerCookie)) as Answer;
    expect(late.status).toBe(400);
    expect(late.body).not.toMatch(/approved/);
    const done = await victim.browser.go(`/interaction/${victim.uid}/wait`);
    expect(done.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    expect(((await get(path, victimCookie)) as Answer).status).toBe(400);
  }, 60_000);
});
