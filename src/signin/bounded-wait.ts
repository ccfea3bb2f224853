import { effectiveStatus } from '../challenge/model.js';
import type { SignInDeps, Started } from './types.js';
import { waitStep, type WaitResult } from './wait.js';

/**
 * sign-in step 9 (docs/architecture.md) for a door that holds its caller's request instead of a
 * page that asks again (the agent API): waits at most `maxMs` for this sign-in's pending push to
 * be answered, woken by the same waiters as the waiting page (challenge/waiters.ts: pub/sub from
 * whichever process took the answer, and a periodic re-read), without holding a worker. Then it
 * answers as waitStep does: approved finishes the sign-in; anything else is where the push stands.
 */
export async function waitAtMost(deps: SignInDeps, s: Started, maxMs: number): Promise<WaitResult> {
  const at = deps.now();
  const ch = s.state.challengeId ? await deps.challenges.get(s.state.challengeId, at) : null;
  const ours = ch !== null && ch.signInId === s.id && ch.accountId === s.state.accountId;
  if (ours && effectiveStatus(ch, at) === 'pending' && maxMs > 0) {
    // Past its expiry by a little, so a push that lapses meanwhile reads as expired, not pending.
    await deps.waiters.wait(ch.id, Math.min(maxMs, Math.max(0, ch.expiresAt - at) + 250)).catch(() => null);
  }
  return waitStep(deps, s);
}
