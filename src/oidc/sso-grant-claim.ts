import { createHash, randomBytes } from 'node:crypto';
import { redisScripts } from '../defences/redis-script.js';
import type { Redis } from '../storage/redis.js';

/**
 * One grant for the parallel single sign-on loads of one app in one browser session.
 *
 * A session names one grant per app, and a code bound to the session is exchanged only while the
 * session still names the code's grant (oidc-provider's checkSessionBinding). A first-party app
 * entered by single sign-on gets its grant made on the way (provider.ts loadExistingGrant). When
 * several loads of that app ran at once (tabs restored together, links opened in a burst), each
 * found no grant in the session it read, made its own, and the session's last save won: every
 * other tab's code came back `invalid_grant`, 5 of 6 in test/oidc/parallel-sso.test.ts before this.
 *
 * Now the first of such loads claims its new grant's id in Redis for a few seconds, under the
 * session, the account, the app and the grant the session named for the app and was not found (a
 * destroyed grant's id is never taken again); the loads beside it make their grant with that id.
 * Each still writes the grant it saved (the row is the same grant: same account, app and session),
 * so whichever request's writes land, every code names the grant the session names.
 */

/** How long a claim answers the loads beside the first: far longer than a load, far shorter than a grant. */
export const SSO_GRANT_CLAIM_MS = 10_000;

const CLAIM_LUA = `
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
`;

export interface SsoGrantClaim {
  sessionUid: string;
  accountId: string;
  clientId: string;
  /** The grant the session named for the app, not found any more (destroyed or expired); undefined when it named none. */
  staleGrantId?: string;
}

/** Pure: the claim's Redis key (a digest: session uids and account ids stay out of key names). */
export function ssoGrantClaimKey(c: SsoGrantClaim): string {
  const digest = createHash('sha256').update(JSON.stringify([c.sessionUid, c.accountId, c.clientId, c.staleGrantId ?? ''])).digest('base64url');
  return `ssogrant:${digest}`;
}

/** A grant id as oidc-provider's own (43 characters of base64url, 256 bits). */
export const newGrantId = (): string => randomBytes(32).toString('base64url');

/** The id the load's new grant takes: its own proposal when it is the first, else the first's. */
export function ssoGrantIds(redis: Redis, ttlMs = SSO_GRANT_CLAIM_MS) {
  const script = redisScripts(redis)('ssoGrantClaim', CLAIM_LUA, 1);
  return async (claim: SsoGrantClaim, proposed = newGrantId()): Promise<string> =>
    String(await script(ssoGrantClaimKey(claim), proposed, ttlMs));
}
