import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Redis } from '../storage/redis.js';
import { redisScripts } from '../defences/redis-script.js';
import { interactionKey } from './adapters.js';
import { destroyOwed, destroyWithClaim, handOverTo } from './interaction-handoff.js';

/**
 * One finished sign-in, one answer to its app (red-team, pages round): the browser that loads the
 * resume URL twice at once (a double click, F5 as the redirect lands) ran oidc-provider's resume
 * twice, and each made its own session, grant and code; the extra sessions' refresh tokens outlived
 * the user's sign-out, which ends only the session its cookie names. Now the first request claims the
 * resume (one SET NX in Redis, shared by every process), and the ones that come while it runs (or
 * up to 15 s after: Back, F5 once landed) wait for its answer and get the very same one (its
 * redirect with the one code, its cookies), whichever the browser then shows; not after an end of
 * the account's sessions. Only a request with the very same cookies (the browser's signed resume
 * cookie and its __Host- key among them) is given it; any other goes on to oidc-provider, which
 * finds the interaction gone. The answer (a code, a session cookie) is kept sealed under a key made
 * from those cookies (AES-256-GCM): Redis holds nothing a request could present (STYLE.md 7; a
 * stolen copy of Redis opens no session and redeems no code).
 */
const RESUME_PATH = /^\/auth\/([A-Za-z0-9_-]{1,64})$/;
const KEEP_MS = 15_000;
const WAIT_MS = 5_000;
const POLL_MS = 25;
/** A form_post answer carries its code in the page: kept when it is at most this long. */
const MAX_BODY = 64 * 1024;

interface Answer { status: number; headers: Record<string, string | string[]>; body: string | null }

interface Kept {
  /** The answer, sealed under the key the request's cookies make (absent while the first request runs). */
  sealed?: string;
  /** Whose sign-in it finished, and when the first request began (epoch ms): an end of that account's sessions since voids it. */
  accountId?: string;
  at?: number;
}

/** The key the very same cookies make, and only they. */
const keyOf = (cookie: string) => createHash('sha256').update('resume-once\n').update(cookie).digest();

function seal(answer: Answer, key: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const text = Buffer.concat([cipher.update(JSON.stringify(answer), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), text]).toString('base64url');
}

/** The answer, or null when these cookies are not the ones it was sealed for. */
function open(sealed: string, key: Buffer): Answer | null {
  try {
    const raw = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')) as Answer;
  } catch {
    return null;
  }
}

// The CSP too: oidc-provider's form_post page runs its auto-submit under a hash it adds there
// (red-team review: a replayed copy without it was a page that never submitted, Entra's every time).
const KEPT_HEADERS = ['location', 'set-cookie', 'content-type', 'content-security-policy'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/*
 * The claim (SET NX, in a script: the stand-in's SET answers differently inside Lua) and, when this
 * request has it, the interaction it resumes, read in the same round trip: '=' and its JSON, '' none,
 * '!' not a string (a former layout, read the usual way). KEYS: the claim, the interaction.
 */
const CLAIM_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return {'0', ''} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local v = redis.pcall('GET', KEYS[2])
if type(v) == 'string' then return {'1', '=' .. v} elseif v then return {'1', '!'} end
return {'1', ''}
`;

/*
 * The claim's end: ARGV[1] the answer kept (for KEEP_MS, ARGV[2]) or '' to give the claim up (DEL);
 * ARGV[3] '1': the interaction (KEYS[2]) was destroyed by this resume and is deleted here
 * (interaction-handoff.ts destroyWithClaim), with the answer, so a load that waited on the claim
 * finds both settled at once.
 */
const CLOSE_LUA = `
if ARGV[1] ~= '' then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) else redis.call('DEL', KEYS[1]) end
if ARGV[3] == '1' then redis.call('DEL', KEYS[2]) end
return 1
`;

/**
 * `sessionsEndedAt`: when the account's sessions were last ended (ms), or null. A load after an end
 * that came since the first request began is not given its answer (red-team, audit replay: a reload
 * a second after `user sign-out` got the ended sign-in's code and session cookie again; the code
 * bought nothing, but the browser was shown signed in).
 */
export function resumeOnce(redis: Redis, sessionsEndedAt: (accountId: string) => Promise<number | null>): Middleware {
  const claim = redisScripts(redis)('ResumeClaim', CLAIM_LUA, 2);
  const close = redisScripts(redis)('ResumeClose', CLOSE_LUA, 2);
  return async (ctx, next) => {
    const m = ctx.method === 'GET' || ctx.method === 'HEAD' ? RESUME_PATH.exec(ctx.path) : null;
    if (!m) return next();
    const key = `resume:${m[1]}`;
    const secret = keyOf(ctx.get('cookie'));
    const began = Date.now();
    const [claimed, interaction] = (await claim(key, interactionKey(m[1]!), JSON.stringify({} satisfies Kept), KEEP_MS)) as string[];
    if (claimed === '1') {
      // Read with the claim: oidc-provider's resume does not read it again (interaction-handoff.ts).
      if (interaction !== '!') handOverTo(ctx.req, m[1]!, interaction ? interaction.slice(1) : null);
      destroyWithClaim(ctx.req, m[1]!);
      let kept: Answer | null = null;
      try {
        await next();
        const body = typeof ctx.body === 'string' && ctx.body.length <= MAX_BODY ? ctx.body : null;
        // A redirect to the app, or a form_post page; an error page is not kept (another try gets its own).
        if ([302, 303].includes(ctx.status) || (ctx.status === 200 && body !== null)) {
          const headers: Record<string, string | string[]> = {};
          for (const name of KEPT_HEADERS) {
            const v = ctx.response.headers[name];
            if (typeof v === 'string' || Array.isArray(v)) headers[name] = v;
          }
          kept = { status: ctx.status, headers, body: ctx.status === 200 ? body : null };
        }
      } finally {
        // The answer kept (or the claim given up) and, when the resume destroyed it, the interaction deleted: one script.
        const owed = destroyOwed(ctx.req) ? '1' : '0';
        if (kept) {
          const accountId = (ctx as { oidc?: { session?: { accountId?: unknown } } }).oidc?.session?.accountId;
          await close(key, interactionKey(m[1]!), JSON.stringify({ sealed: seal(kept, secret), at: began, ...(typeof accountId === 'string' ? { accountId } : {}) } satisfies Kept), KEEP_MS, owed);
        } else {
          await close(key, interactionKey(m[1]!), '', KEEP_MS, owed);
        }
      }
      return;
    }
    // Another request of this resume is under way: its answer, when it is this browser's.
    for (const end = Date.now() + WAIT_MS; Date.now() < end; await sleep(POLL_MS)) {
      const raw = await redis.get(key);
      if (raw === null) break; // it ended without an answer to keep: this one tries for itself
      const seen = JSON.parse(raw) as Kept;
      if (seen.sealed === undefined) continue;
      const answer = open(seen.sealed, secret);
      if (!answer) break; // another browser's: oidc-provider answers it
      if (seen.accountId !== undefined) {
        const ended = await sessionsEndedAt(seen.accountId);
        if (ended !== null && ended >= (seen.at ?? 0)) break; // ended since: oidc-provider finds nothing to resume
      }
      ctx.status = answer.status;
      for (const [name, value] of Object.entries(answer.headers)) ctx.set(name, value);
      ctx.set('Cache-Control', 'no-store');
      if (answer.body !== null) ctx.body = answer.body;
      return;
    }
    return next();
  };
}
