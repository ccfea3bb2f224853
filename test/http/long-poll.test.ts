import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { Challenge } from '../../src/challenge/types.js';
import type { WaitListener } from '../../src/challenge/waiters.js';
import { createLongPollRoute, type LongPollDeps } from '../../src/http/long-poll.js';
import { statusPollUid } from '../../src/http/long-poll-match.js';
import { createLogger } from '../../src/log.js';
import type { SignInState } from '../../src/signin/state.js';

const UID = 'abcdefghij0123456789';
const PATH = `/interaction/${UID}/push/status`;

describe('statusPollUid: which requests the raw route may hold', () => {
  const cookie = { cookie: '_interaction=x' };
  it('takes only a GET of exactly the poll path, with a cookie, no query, no body, no Authorization', () => {
    expect(statusPollUid('GET', PATH, cookie)).toBe(UID);
    expect(statusPollUid('GET', PATH, { ...cookie, 'content-length': '0' })).toBe(UID);
    for (const [method, url, headers] of [
      ['HEAD', PATH, cookie], ['POST', PATH, cookie], ['GET', `${PATH}?wait=0`, cookie], ['GET', `${PATH}/`, cookie],
      ['GET', `http://evil.example${PATH}`, cookie], ['GET', PATH, {}], ['GET', PATH, { ...cookie, authorization: 'Bearer x' }],
      ['GET', PATH, { ...cookie, 'content-length': '3' }], ['GET', PATH, { ...cookie, 'transfer-encoding': 'chunked' }],
      ['GET', '/interaction/short/push/status', cookie], ['GET', `/interaction/${'a'.repeat(65)}/push/status`, cookie],
      ['GET', '/interaction/abc%00defghijk/push/status', cookie], ['GET', `/interaction/${UID}/wait`, cookie], [undefined, PATH, cookie],
    ] as const) {
      expect(statusPollUid(method, url, headers)).toBeNull();
    }
  });
});

/** The route with storage and oidc-provider stood in for: what a poll is answered, and what goes on to Koa. */
describe('the raw long-poll route', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  const state = { accountId: 'acc-1', challengeId: 'ch-1' } as unknown as SignInState;
  const challenge = (status: Challenge['status'], reason: string | null = null) =>
    ({ id: 'ch-1', signInId: UID, accountId: 'acc-1', status, expiresAt: Date.now() + 60_000, resolution: reason ? { reason } : null }) as unknown as Challenge;

  async function start(over: Partial<LongPollDeps> = {}) {
    const listeners: WaitListener[] = [];
    const lines: Record<string, unknown>[] = [];
    let draining = false;
    const deps: LongPollDeps = {
      interaction: async (_req, res) => { res.setHeader('Set-Cookie', 'resigned=1'); return { details: { uid: UID, prompt: { name: 'login' }, params: {} }, found: { state, push: { challenge: null, readAt: 0 } } }; },
      startedHere: () => true,
      signin: {
        planWatch: async () => ({ hold: { challengeId: 'ch-1', signInId: UID, accountId: 'acc-1', expiresAt: Date.now() + 60_000, ms: 25_000, readAt: 0 } }),
      },
      hold: (_id, _ms, l) => { listeners.push(l); return true; },
      draining: () => draining,
      retryAfter: '2',
      hsts: true,
      logger: createLogger('info', new Writable({ write(c, _e, done) { lines.push(JSON.parse(String(c)) as Record<string, unknown>); done(); } })),
      now: Date.now,
      ...over,
    };
    const route = createLongPollRoute(deps);
    const koa: { req: IncomingMessage; headers: Record<string, unknown> }[] = [];
    const next = (req: IncomingMessage, res: ServerResponse) => {
      koa.push({ req, headers: res.getHeaders() });
      res.end('koa');
    };
    const server = createServer(route.handler(next));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const poll = (path = PATH, headers: Record<string, string> = {}) => fetch(`${url}${path}`, { headers: { cookie: '_interaction=x', ...headers } });
    const heldSoon = async (n: number) => { while (route.held < n) await new Promise((r) => setTimeout(r, 5)); };
    return { route, listeners, lines, koa, poll, heldSoon, drainNow: () => { draining = true; return route.drain(); } };
  }

  it('holds the poll and answers it from the challenge the waiters hand over, reported told as denied', async () => {
    const t = await start();
    const res = t.poll();
    await t.heldSoon(1);
    t.listeners[0]!.settled(challenge('denied', 'reported'));
    const answer = await res;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ status: 'denied', reason: 'denied', next: `/interaction/${UID}/wait` });
    expect(answer.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    expect(answer.headers.get('set-cookie')).toBeNull();
    expect(t.koa).toHaveLength(0);
    expect(t.route.held).toBe(0);
    // Told twice (a late sweep): nothing more is written, nothing logged twice.
    t.listeners[0]!.settled(challenge('approved'));
    expect(t.lines.filter((l) => l.msg === 'request')).toEqual([expect.objectContaining({ path: PATH, status: 200, method: 'GET' })]);
  });

  it('answers "pending" (or "expired" past its time) when the challenge cannot be read again', async () => {
    const t = await start();
    const res = t.poll();
    await t.heldSoon(1);
    t.listeners[0]!.settled(null);
    expect(await (await res).json()).toMatchObject({ status: 'pending', reason: null });
    const late = await start({ now: () => Date.now() + 120_000 });
    const res2 = late.poll();
    await late.heldSoon(1);
    late.listeners[0]!.settled(null);
    expect(await (await res2).json()).toMatchObject({ status: 'expired', reason: 'expired' });
  });

  it('hands Koa every poll it does not hold, without the cookies its lookup set, under the same request id', async () => {
    for (const over of [
      { interaction: async () => { throw new Error('interaction session id cookie not found'); } },
      { interaction: async () => ({ details: { uid: 'another-uid-0123', prompt: { name: 'login' }, params: {} }, found: { state, push: { challenge: null, readAt: 0 } } }) },
      { interaction: async () => ({ details: { uid: UID, prompt: { name: 'consent' }, params: {} }, found: { state, push: { challenge: null, readAt: 0 } } }) },
      // A browser that did not start the sign-in (its interaction cookie planted: red-team).
      { startedHere: () => false },
      { interaction: async () => ({ details: { uid: UID, prompt: { name: 'login' }, params: {} }, found: null }), signin: { planWatch: async () => { throw new Error('not reached'); } } },
      { signin: { planWatch: async () => ({ now: { status: 'approved' as const, reason: null } }) } },
      // Redis down for the read of both.
      { interaction: async () => { throw new Error('Connection is closed.'); } },
    ] satisfies Partial<LongPollDeps>[]) {
      const t = await start(over);
      const res = await t.poll(PATH, { 'x-request-id': 'proxy-id-123' });
      expect(await res.text()).toBe('koa');
      expect(t.koa).toHaveLength(1);
      expect(t.koa[0]!.headers['set-cookie']).toBeUndefined();
      expect(t.koa[0]!.req.headers['x-request-id']).toBe('proxy-id-123');
      expect(t.route.held).toBe(0);
    }
  });

  it('at shutdown answers held polls 503 + Retry-After and leaves new ones to Koa; closed waiters answer at once', async () => {
    const t = await start();
    const a = t.poll();
    const b = t.poll();
    await t.heldSoon(2);
    expect(t.drainNow()).toBe(2);
    for (const res of await Promise.all([a, b])) {
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('2');
      expect(res.headers.get('connection')).toBe('close');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(await res.json()).toEqual({ status: 'unavailable', error: 'shutting_down', retry: true });
    }
    t.listeners[0]!.settled(challenge('approved')); // the waiters wake them later: nothing more
    expect(await (await t.poll()).text()).toBe('koa');

    const closed = await start({ hold: () => false });
    expect(await (await closed.poll()).json()).toMatchObject({ status: 'pending' });
  });
});
