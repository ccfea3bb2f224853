import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, type PushWorld } from '../support/push-world.js';
import { recordRedisCommands, sent, type SentCommand } from '../support/redis-commands.js';
import { auditEvents, CALLBACK, enroll, startWorld } from './helpers.js';

/**
 * What one push sign-in costs in Redis, step by step, on a real Redis (issue 15, performance
 * target 1): each saved round trip has an assertion here, so a change that brings one back fails.
 * The defences each saving had to keep are tested where they live (named below).
 */
describe('round trips of a push sign-in', () => {
  let w: PushWorld;
  const recorder = recordRedisCommands();
  beforeAll(async () => { w = await startWorld(); });
  afterAll(async () => {
    recorder.restore();
    await w.close();
  });

  /** A whole sign-in, the phone answering while the waiting page long-polls; the commands of each step. */
  async function signIn(phone: Awaited<ReturnType<typeof enroll>>['phone'], subscriptionId: string) {
    const start = await recorder.during(() => w.startSignIn());
    const started = start.result;
    const { browser, uid } = started;
    const send = await recorder.during(() => browser.submit(started.next.body, /\/push$/, {}));
    const wait = send.result;
    const number = matchNumberOf(wait.body)!;
    const cid = ((await w.pushService.waitForMessage(subscriptionId, 5000)).payload as { cid: string }).cid;
    await phone.challenge(cid);
    let polling!: Promise<Response>;
    const poll = await recorder.during(async () => {
      polling = browser.request(`/interaction/${uid}/push/status`, { headers: { accept: 'application/json' } });
      await new Promise((r) => setTimeout(r, 150));
    });
    const answer = await recorder.during(async () => {
      expect((await phone.respond(cid, 'approve', { number })).status).toBe(200);
      return (await (await polling).json()) as { status: string; next: string };
    });
    expect(answer.result.status).toBe('approved');
    const resume = await recorder.during(() => browser.go(answer.result.next));
    expect(resume.result.url).toMatch(CALLBACK);
    const tokens = await w.tokens(resume.result.url, started.verifier, started.state);
    expect(tokens.claims()!.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);
    return { uid, cid, start: start.commands, send: send.commands, poll: poll.commands, answer: answer.commands, resume: resume.commands };
  }

  let steps: { uid: string; cid: string; start: SentCommand[]; send: SentCommand[]; poll: SentCommand[]; answer: SentCommand[]; resume: SentCommand[] };
  beforeAll(async () => {
    const { phone, subscription } = await enroll(w);
    await signIn(phone, subscription!.id); // loads every script into Redis
    steps = await signIn(phone, subscription!.id);
  });

  // A page that reads its sign-in's state reads its interaction with it, by one script, and hands
  // it to oidc-provider's find (src/oidc/interaction-handoff.ts): the login page, the choice page,
  // the push POST, the waiting page and its long-poll. Left with a GET of their own: the password
  // POST (its state is written, not read) and the finishing page (it takes the state only after
  // the interaction's checks). That the read is the same: every sign-in test; the hand-over's
  // bounds: test/oidc/interaction-handoff.test.ts.
  it('the pages read their interaction and sign-in state in one command', () => {
    const interaction = `oidc:Interaction:${createHash('sha256').update(steps.uid).digest('hex')}`;
    const both = (commands: SentCommand[]) => commands.filter((c) => c.name === 'evalsha'
      && c.args.some((a) => a.endsWith(interaction)) && c.args.some((a) => a.endsWith(`signin:{${steps.uid}}`)));
    // authorize, the login page, the password POST, the choice page
    expect(sent(steps.start, 'get', /oidc:Interaction:/)).toHaveLength(1);
    expect(both(steps.start)).toHaveLength(2);
    // the push POST and the waiting page
    expect(sent(steps.send, 'get', /oidc:Interaction:/)).toEqual([]);
    expect(both(steps.send)).toHaveLength(2);
    // the long-poll
    expect(sent(steps.poll, 'get', /oidc:Interaction:/)).toEqual([]);
    expect(both(steps.poll)).toHaveLength(1);
  });

  // A right password gives back its reservation (the address's failure; the username's count reset)
  // in the script that writes the sign-in's state (src/signin/state.ts begin, linked): the password
  // POST's Redis work is the interaction's read, the reservation and that script. The release's
  // effect: test/defences/throttle-gate.test.ts and the password throttle tests.
  it('the password POST releases its throttle reservation in the script that begins the sign-in', () => {
    const throttle = steps.start.filter((c) => c.args.some((a) => /:thr:/.test(a)));
    expect(throttle.map((c) => c.name)).toEqual(['evalsha', 'evalsha']);
    expect(throttle[0]!.args.some((a) => a.endsWith(`signin:{${steps.uid}}`))).toBe(false);
    expect(throttle[1]!.args.some((a) => a.endsWith(`signin:{${steps.uid}}`))).toBe(true);
    expect(steps.start.filter((c) => c.args.some((a) => a.endsWith(`signin:{${steps.uid}}`))).map((c) => c.name)).toEqual(['evalsha', 'evalsha', 'evalsha']);
  });

  // The waiting page loaded the interaction (with its state, above); finishing it saves that one
  // (src/interaction/load.ts finishInteraction) rather than have oidc-provider's interactionResult
  // read it again; the resume reads it with its claim (src/oidc/resume-once.ts), handed to
  // oidc-provider's find. The save only updates one still there: test/storage/oidc-adapter.contract.test.ts.
  it('finishing reads the interaction with the page\'s state, and the resume with its claim', () => {
    const interaction = `oidc:Interaction:${createHash('sha256').update(steps.uid).digest('hex')}`;
    expect(sent(steps.resume, 'get', /oidc:Interaction:/)).toEqual([]);
    const claim = sent(steps.resume, 'evalsha', new RegExp(`:resume:${steps.uid}$`))[0]!;
    expect(claim.args.slice(-2)).toEqual(['{}', '60000']);
    expect(claim.args.some((a) => a.endsWith(interaction))).toBe(true);
  });

  // The resume's Redis work: its claim (with the interaction, above), the code, oidc-provider's
  // destroy of the interaction where oidc-provider makes it (a claim that waited for it would let a
  // slow resume be resumed beside it: test/security/resume-claim.test.ts), the answer kept.
  it('the resume is its claim, the code, the interaction\'s deletion and the kept answer', async () => {
    const interaction = `oidc:Interaction:${createHash('sha256').update(steps.uid).digest('hex')}`;
    const resume = steps.resume.slice(steps.resume.findIndex((c) => c.args.some((a) => a.endsWith(`:resume:${steps.uid}`))));
    expect(resume.map((c) => [c.name, c.args.find((a) => /:(resume|oidc:[A-Za-z]+):/.test(a))?.replace(/^.*?:(resume|oidc:[A-Za-z]+):.*$/, '$1')])).toEqual([
      ['evalsha', 'resume'], ['del', 'oidc:Interaction'], ['evalsha', 'oidc:AuthorizationCode'], ['set', 'resume'],
    ]);
    expect(await w.t.idp.redis.exists(interaction)).toBe(0);
  });

  // The finishing page reads the sign-in's state with its interaction; its push approved, it takes
  // the state by one script once the interaction's checks passed (src/signin/state.ts getWithPush):
  // no DEL after. One login of parallel finishes: below.
  it('finishing reads, then takes the sign-in state, one command each', () => {
    expect(steps.resume.filter((c) => c.args.some((a) => a.includes(`signin:{${steps.uid}}`)))).toEqual([
      expect.objectContaining({ name: 'evalsha' }),
      expect.objectContaining({ name: 'evalsha' }),
    ]);
  });

  // The session is saved signed in under a fresh id: no copy of it in Redis to delete
  // (src/oidc/adapters.ts SessionAdapter; the copy's defence: test/storage/oidc-adapter.contract.test.ts).
  it('saving the signed-in session sends nothing to Redis', () => {
    expect(steps.resume.filter((c) => c.args.some((a) => a.includes('oidc:Session:')))).toEqual([]);
  });

  // The resolve script publishes the record it wrote; the long-poll's waiter wakes with it
  // (src/challenge/waiters.ts) instead of reading it again. Left: the answer handler's own read.
  it('the woken long-poll does not read the challenge again after its resolution', () => {
    const resolved = steps.answer.findIndex((c) => c.name === 'evalsha' && c.args.some((a) => a.endsWith(`:ch:${steps.cid}`)));
    expect(resolved).toBeGreaterThan(0);
    expect(sent(steps.answer.slice(resolved), 'hmget', new RegExp(`:ch:${steps.cid}$`))).toEqual([]);
  });

  // Every script goes by EVALSHA once the server knows it (src/defences/redis-script.ts), the
  // answer's rate limit too (src/device-api/rate-limit.ts): its text is not sent with each answer.
  it('the answer sends no script text, its rate limit counted by EVALSHA', () => {
    expect(steps.answer.filter((c) => c.name === 'eval')).toEqual([]);
    expect(sent(steps.answer, 'evalsha', /:rl:resp:/)).toHaveLength(1);
  });

  // The answer's rate limit is counted by the script that reserves its TOTP check on the devices'
  // limit (src/defences/throttle-store.ts), and the right TOTP's reset of that limit and the
  // approval's forgiveness on the push-fatigue set go with the resolution (src/challenge/redis-store.ts):
  // the answer is two scripts, the first reading the challenge too. Their defences: the device API's
  // rate-limit and TOTP-oracle tests, push-bombing.test.ts, the challenge store contract.
  it('the answer is two scripts: reserve (with the rate limit and the challenge\'s read), then resolve (with the reset and the forgiveness)', () => {
    const touching = (re: RegExp) => steps.answer.filter((c) => c.args.some((a) => re.test(a)));
    const reserve = touching(/:rl:resp:/);
    expect(reserve).toEqual([expect.objectContaining({ name: 'evalsha' })]);
    expect(reserve[0]!.args.some((a) => /:thr:otp-device:/.test(a))).toBe(true);
    const resolve = touching(new RegExp(`:ch:${steps.cid}$`)).filter((c) => c.name === 'evalsha' && c !== reserve[0]);
    expect(resolve).toHaveLength(1);
    expect(resolve[0]!.args.some((a) => /:pf:sent:/.test(a))).toBe(true);
    expect(resolve[0]!.args.some((a) => /:thr:otp-device:/.test(a))).toBe(true);
    expect(touching(/:thr:otp-device:/)).toHaveLength(2);
    expect(touching(/:pf:sent:/)).toHaveLength(1);
    // The POST of the answer in all (the phone read the challenge before it): the reservation, which
    // reads the challenge too (src/challenge/types.ts readBeside), and the resolution.
    expect(reserve[0]!.args.some((a) => a.endsWith(`:ch:${steps.cid}`))).toBe(true);
    const posted = steps.answer.slice(steps.answer.indexOf(reserve[0]!)).filter((c) => !c.args.some((a) => /oidc:Interaction:|signin:\{/.test(a)));
    expect(posted.map((c) => c.name)).toEqual(['evalsha', 'evalsha']);
  });

  it('parallel finishing requests give one login', async () => {
    const { phone, subscription } = await enroll(w, { name: 'Second phone' });
    const started = await w.startSignIn();
    const wait = await started.browser.submit(started.next.body, /\/push$/, {});
    const cid = ((await w.pushService.waitForMessage(subscription!.id, 5000)).payload as { cid: string }).cid;
    expect((await phone.respond(cid, 'approve', { number: matchNumberOf(wait.body)! })).status).toBe(200);
    const successes = async () => (await auditEvents(w, 'signin.success')).length;
    const before = await successes();
    const parallel = 200;
    const answers = await Promise.all(Array.from({ length: parallel }, () => started.browser.request(`/interaction/${started.uid}/wait`)));
    // One request finishes the sign-in; the others, this browser's too, are sent on to the same
    // resume once its result is saved (submitted-twice.test.ts), or told it ended just before.
    const finished = answers.filter((r) => r.status === 303 && /\/auth\//.test(r.headers.get('location') ?? ''));
    expect(finished.length).toBeGreaterThanOrEqual(1);
    expect(new Set(finished.map((r) => r.headers.get('location'))).size).toBe(1);
    expect(answers.filter((r) => !finished.includes(r)).every((r) => r.status === 400)).toBe(true);
    expect(await successes()).toBe(before + 1);
    const done = await started.browser.go(finished[0]!.headers.get('location')!);
    expect(done.url).toMatch(CALLBACK);
  });
});
