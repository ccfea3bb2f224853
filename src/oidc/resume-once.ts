import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Context, Middleware, Next } from 'koa';
import type { Redis } from '../storage/redis.js';
import { besideValue, GET_BESIDE_LUA, redisScripts } from '../defences/redis-script.js';
import { HttpError } from '../http/errors.js';
import { t } from '../i18n/index.js';
import { interactionKey } from './adapters.js';
import { destroyedIn, handOverTo, watchDestroy } from './interaction-handoff.js';

/**
 * One finished sign-in, one answer to its app (red-team, pages round): the browser that loads the
 * resume URL twice at once (a double click, F5 as the redirect lands) ran oidc-provider's resume
 * twice, and each made its own session, grant and code; the extra sessions' refresh tokens outlived
 * the user's sign-out, which ends only the session its cookie names. Now the first request claims the
 * resume (one script in Redis, shared by every process), and the ones that come while it runs (or
 * up to 15 s after: Back, F5 once landed) wait for its answer and get the very same one (its
 * redirect with the one code, its cookies), whichever the browser then shows; not after an end of
 * the account's sessions. Only a request with the very same cookies (the browser's signed resume
 * cookie and its __Host- key among them) is given it; any other goes on to oidc-provider, which
 * finds the interaction gone. The answer (a code, a session cookie) is kept sealed under a key made
 * from those cookies (AES-256-GCM): Redis holds nothing a request could present (STYLE.md 7; a
 * stolen copy of Redis opens no session and redeems no code).
 */
const RESUME_PATH = /^\/auth\/([^/]+)$/;
/** The shape of oidc-provider's interaction uids. */
const UID = /^[A-Za-z0-9_-]{1,64}$/;
const KEEP_MS = 15_000;
/**
 * A claim's life while its resume runs: longer than any resume takes, so that no other load of it
 * resumes beside it (they wait WAIT_MS, then are answered 503 and may load it again); a process
 * that dies mid-resume leaves it for this long.
 */
const CLAIM_MS = 60_000;
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
 * The claim and, when this request gets it, the interaction it resumes, in one round trip. Claimed:
 * {'1', the interaction as getBeside answers it (redis-script.ts)}; held by another request: {'0',
 * the claim's value}. KEYS: the claim, the interaction.
 */
const CLAIM_LUA = `${GET_BESIDE_LUA}
local held = redis.call('GET', KEYS[1])
if held then return {'0', held} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {'1', getBeside(KEYS[2])}
`;

/** Pure: the uid a resume URL's last segment names, percent-decoding as oidc-provider's router does (null: malformed). */
export function resumePathUid(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/**
 * `sessionsEndedAt`: when the account's sessions were last ended (ms), or null. A load after an end
 * that came since the first request began is not given its answer (red-team, audit replay: a reload
 * a second after `user sign-out` got the ended sign-in's code and session cookie again; the code
 * bought nothing, but the browser was shown signed in).
 * `resumeCookie`: the uid in the browser's signed resume cookie, read as oidc-provider reads it (the
 * interaction its resume takes, whatever the URL says), or undefined.
 */
export function resumeOnce(redis: Redis, sessionsEndedAt: (accountId: string) => Promise<number | null>, resumeCookie: (ctx: Context) => string | undefined): Middleware {
  const claim = redisScripts(redis)('ResumeClaim', CLAIM_LUA, 2);
  return async (ctx, next) => {
    const m = ctx.method === 'GET' || ctx.method === 'HEAD' ? RESUME_PATH.exec(ctx.path) : null;
    if (!m) return next();
    // oidc-provider resumes the interaction its signed resume cookie names, and takes the URL's uid
    // percent-decoded: the claim is the cookie's, and a URL that names another (or spells it
    // otherwise than plainly) is refused, as the browser only ever loads the one it was sent to
    // (red-team: `/auth/%41bc…` or `/auth/anything` with the cookie went round the claim, a code each).
    const uid = resumeCookie(ctx);
    if (uid === undefined) return next(); // oidc-provider: "authorization request has expired"
    if (m[1] !== uid) {
      if (resumePathUid(m[1]!) === null) return next(); // oidc-provider answers a malformed path itself
      throw new HttpError(400, 'session_not_found', t('error.session_not_found'));
    }
    if (!UID.test(uid)) return next();
    const key = `resume:${uid}`;
    const secret = keyOf(ctx.get('cookie'));
    const began = Date.now();
    // Claimed, this request resumes; else it waits for the claim's answer, and never resumes beside
    // a claim still running (red-team: a resume slower than the wait let an F5 resume it too), nor
    // one that ended without keeping an answer (then it claims for itself).
    for (const end = began + WAIT_MS; ;) {
      const [claimed, value] = (await claim(key, interactionKey(uid), JSON.stringify({} satisfies Kept), CLAIM_MS)) as string[];
      if (claimed === '1') return resumeClaimed(ctx, next, { key, uid, interaction: value!, secret, began });
      const seen = JSON.parse(value!) as Kept;
      if (seen.sealed === undefined) {
        if (Date.now() >= end) throw new HttpError(503, 'temporarily_unavailable', t('error.unavailable'), { 'Retry-After': '1' });
        await sleep(POLL_MS);
        continue;
      }
      // An answer is kept only once the resume destroyed its interaction: a request that may not
      // have it finds nothing to resume at oidc-provider.
      const answer = open(seen.sealed, secret);
      if (!answer) return next(); // another browser's
      if (seen.accountId !== undefined) {
        const ended = await sessionsEndedAt(seen.accountId);
        if (ended !== null && ended >= (seen.at ?? 0)) return next(); // ended since: oidc-provider finds nothing to resume
      }
      ctx.status = answer.status;
      for (const [name, value] of Object.entries(answer.headers)) ctx.set(name, value);
      ctx.set('Cache-Control', 'no-store');
      if (answer.body !== null) ctx.body = answer.body;
      return;
    }
  };

  /** This request holds the claim: oidc-provider resumes, and its answer is kept for the other loads. */
  async function resumeClaimed(ctx: Context, next: Next, c: { key: string; uid: string; interaction: string; secret: Buffer; began: number }) {
    // Read with the claim: oidc-provider's resume does not read it again (interaction-handoff.ts).
    const interaction = besideValue(c.interaction);
    if (interaction !== undefined) handOverTo(ctx.req, c.uid, interaction);
    watchDestroy(ctx.req, c.uid);
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
      // Kept only when the resume ended its interaction: an answer that leaves it alive (the
      // sign-out form of an account switch) is not the resume's last, and the loads after it must
      // claim afresh (red-team: kept, it sent them all past the claim, a code each).
      if (kept && destroyedIn(ctx.req)) {
        const accountId = (ctx as { oidc?: { session?: { accountId?: unknown } } }).oidc?.session?.accountId;
        await redis.set(c.key, JSON.stringify({ sealed: seal(kept, c.secret), at: c.began, ...(typeof accountId === 'string' ? { accountId } : {}) } satisfies Kept), 'PX', KEEP_MS);
      } else {
        destroyedIn(ctx.req);
        await redis.del(c.key);
      }
    }
  }
}
