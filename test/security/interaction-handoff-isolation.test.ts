import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, type PushWorld } from '../support/push-world.js';
import { addUser, enroll, newestChallenge, signedInToWaitingPage, startWorld } from '../signin/helpers.js';

/**
 * The pages read their interaction with their sign-in's state and hand it to oidc-provider's find
 * (src/oidc/interaction-handoff.ts): two sign-ins' pages loaded interleaved in one process, some
 * with the other browser's cookies, each page sees its own sign-in only, a crossed load is refused,
 * and the finish and the resume stay once (red-team round of 2026-12-07, kept as a test).
 */
describe('an interaction handed over never crosses requests', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); }, 120_000);
  afterAll(() => w?.close());

  it('300 interleaved loads of two sign-ins\' pages, then their finish and resume raced', async () => {
    const bobId = await addUser(w, 'bob');
    const alicePhone = await enroll(w, { name: 'alice phone' });
    await enroll(w, { accountId: bobId, name: 'bob phone' });
    const A = await signedInToWaitingPage(w);
    const B = await signedInToWaitingPage(w, { username: 'bob' });
    const numbers = { A: matchNumberOf(A.wait.body), B: matchNumberOf(B.wait.body) };
    expect(numbers.A).not.toBeNull();
    expect(numbers.B).not.toBeNull();
    const sign = { A, B };
    const cookies = { A: A.browser.cookieHeader(), B: B.browser.cookieHeader() };
    const other = (x: 'A' | 'B') => (x === 'A' ? 'B' : 'A');
    const paths = ['', '/second-factor', '/wait', '/push/status?wait=0', '/passcode', '/recovery'];
    const loads = await Promise.all(Array.from({ length: 300 }, async (_, i) => {
      const own = i % 2 ? 'B' as const : 'A' as const;
      const cookieOf = i % 7 === 0 ? other(own) : own;
      const path = paths[i % paths.length]!;
      const res = await fetch(`${w.t.url}/interaction/${sign[own].uid}${path}`, {
        redirect: 'manual', headers: { cookie: cookies[cookieOf], accept: path.includes('status') ? 'application/json' : 'text/html' },
      });
      return { own, cookieOf, path, status: res.status, location: res.headers.get('location') ?? '', body: await res.text() };
    }));
    expect(loads.filter((l) => l.status >= 500)).toEqual([]);
    // Another browser's cookies: refused, whatever page.
    expect(loads.filter((l) => l.cookieOf !== l.own && l.status < 400)).toEqual([]);
    const own = loads.filter((l) => l.cookieOf === l.own);
    expect(own.length).toBeGreaterThan(250);
    expect(own.filter((l) => l.status >= 400)).toEqual([]);
    // Each page names its own sign-in only, and each waiting page shows its own number.
    expect(own.filter((l) => l.body.includes(sign[other(l.own)].uid) || l.location.includes(sign[other(l.own)].uid))).toEqual([]);
    const waits = own.filter((l) => l.path === '/wait' && l.status === 200);
    expect(waits.length).toBeGreaterThan(0);
    expect(waits.filter((l) => matchNumberOf(l.body) !== numbers[l.own])).toEqual([]);

    // A approved: 60 finishing loads of A's and B's waiting pages, some crossed; only A's own finish.
    const chA = await newestChallenge(alicePhone.phone);
    expect((await alicePhone.phone.respond(chA.id, 'approve', { number: numbers.A! })).status).toBe(200);
    const mix = await Promise.all(Array.from({ length: 60 }, async (_, i) => {
      const owner = i % 3 === 0 ? 'B' as const : 'A' as const;
      const crossed = i % 5 === 0;
      const res = await fetch(`${w.t.url}/interaction/${sign[owner].uid}/wait`, { redirect: 'manual', headers: { cookie: cookies[crossed ? other(owner) : owner], accept: 'text/html' } });
      return { owner, crossed, status: res.status, location: res.headers.get('location') ?? '' };
    }));
    expect(mix.filter((m) => m.status >= 500)).toEqual([]);
    const finishes = mix.filter((m) => m.location.includes(`/auth/${A.uid}`));
    expect(finishes.length).toBeGreaterThanOrEqual(1);
    expect(finishes.every((f) => f.owner === 'A' && !f.crossed)).toBe(true);
    expect(mix.filter((m) => m.crossed && m.status < 400)).toEqual([]);
    // A's resume, ten loads at once: one code.
    const resumes = await Promise.all(Array.from({ length: 10 }, () => fetch(`${w.t.url}/auth/${A.uid}`, { redirect: 'manual', headers: { cookie: cookies.A, accept: 'text/html' } })));
    const codes = new Set(resumes.map((r) => r.headers.get('location') ?? '').filter((l) => l.includes('code=')).map((l) => new URL(l).searchParams.get('code')));
    expect(codes.size).toBe(1);
    // B waits on, untouched, with its own number.
    const bWait = await fetch(`${w.t.url}/interaction/${B.uid}/wait`, { redirect: 'manual', headers: { cookie: cookies.B, accept: 'text/html' } });
    expect(bWait.status).toBe(200);
    expect(matchNumberOf(await bWait.text())).toBe(numbers.B);
  }, 60_000);
});
