import type { Redis } from '../storage/redis.js';
import { resolvedChannel, type RedisChallengeStore } from './redis-store.js';
import type { Challenge, ChallengeStatus, ChallengeStore, ChallengeWaiters } from './types.js';

/*
 * docs/architecture.md, sign-in step 9: the login page long-polls; whichever process holds it must wake as soon as any
 * process resolves the challenge. One subscriber connection per process fans messages out to the
 * local waiters; a periodic batched re-read catches what pub/sub lost (a reconnect drops messages).
 */

export interface ChallengeWaitersOptions {
  /** Must match the store's channel. Default: keyPrefix + 'pushotp:resolved'. */
  channel?: string;
  /** How often the ids being waited on are re-read, in case a message was missed. */
  safetyNetMs?: number;
  /** A connection to subscribe on; by default one is duplicated from `redis` and closed by close(). */
  subscriber?: Redis;
}

export interface ProcessChallengeWaiters extends ChallengeWaiters {
  /** How many challenge ids have someone waiting (for metrics and leak tests). */
  readonly waitingIds: number;
}

type Settle = (ch: Challenge | null) => void;
type PeekingStore = ChallengeStore & Partial<Pick<RedisChallengeStore, 'peekStatuses'>>;

export function createChallengeWaiters(
  redis: Redis,
  store: PeekingStore,
  opts: ChallengeWaitersOptions = {},
): ProcessChallengeWaiters {
  const channel = resolvedChannel(redis, opts.channel);
  const safetyNetMs = opts.safetyNetMs ?? 1000;
  const ownsSubscriber = !opts.subscriber;
  const sub = opts.subscriber ?? redis.duplicate();
  // A failover drops the subscriber's connection too; ioredis reconnects and resubscribes (see below),
  // and the safety net covers the gap. Without a listener each retry would print "Unhandled error event".
  if (ownsSubscriber) sub.on('error', () => {});
  const waiting = new Map<string, Set<Settle>>();
  let timer: NodeJS.Timeout | null = null;
  let sweeping = false;
  let closed = false;

  const onMessage = (ch: string, raw: string): void => {
    if (ch !== channel) return;
    let id: unknown;
    try {
      id = (JSON.parse(raw) as { id?: unknown }).id;
    } catch {
      return;
    }
    if (typeof id === 'string' && waiting.has(id)) void recheck(id);
  };
  // ioredis resubscribes after a reconnect; messages sent meanwhile are gone, so look at once.
  const onReady = (): void => void sweep();
  sub.on('message', onMessage);
  sub.on('ready', onReady);
  // A failed subscription is not fatal: the safety net still wakes everyone, only later.
  const subscribed = sub.subscribe(channel).then(() => undefined, () => undefined);

  function wake(id: string, ch: Challenge | null): void {
    const set = waiting.get(id);
    if (!set) return;
    waiting.delete(id);
    for (const settle of set) settle(ch);
    idleCheck();
  }

  /** The message is only a hint: the record in Redis is the truth. */
  async function recheck(id: string): Promise<void> {
    try {
      const ch = await store.get(id);
      if (!ch || ch.status !== 'pending') wake(id, ch);
    } catch {
      // Redis hiccup: the next sweep tries again.
    }
  }

  async function sweep(): Promise<void> {
    if (sweeping || waiting.size === 0) return;
    sweeping = true;
    try {
      const ids = [...waiting.keys()];
      const statuses: (ChallengeStatus | null)[] = store.peekStatuses
        ? await store.peekStatuses(ids)
        : await Promise.all(ids.map(async (id) => (await store.get(id))?.status ?? null));
      await Promise.all(ids.filter((_, i) => statuses[i] !== 'pending').map(recheck));
    } catch {
      // As above.
    } finally {
      sweeping = false;
    }
  }

  /** The timer runs only while someone waits, and never keeps the process alive by itself. */
  function idleCheck(): void {
    if (waiting.size > 0 && !timer && !closed) {
      timer = setInterval(() => void sweep(), safetyNetMs);
      timer.unref();
    } else if (waiting.size === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  }

  function remove(id: string, settle: Settle): void {
    const set = waiting.get(id);
    if (!set) return;
    set.delete(settle);
    if (set.size === 0) waiting.delete(id);
    idleCheck();
  }

  return {
    get waitingIds() {
      return waiting.size;
    },

    wait(id, timeoutMs) {
      if (closed) return Promise.reject(new Error('challenge waiters are closed'));
      return new Promise<Challenge | null>((resolve) => {
        let done = false;
        let timeout: NodeJS.Timeout | undefined;
        const settle: Settle = (ch) => {
          if (done) return;
          done = true;
          clearTimeout(timeout);
          remove(id, settle);
          resolve(ch);
        };
        const set = waiting.get(id) ?? new Set<Settle>();
        set.add(settle);
        waiting.set(id, set);
        idleCheck();
        timeout = setTimeout(() => {
          remove(id, settle);
          store.get(id).then(settle, () => settle(null));
        }, timeoutMs);
        // Read only once registered and subscribed: a resolution landing in between is then either
        // seen by this read or announced to us, never neither.
        void subscribed.then(async () => {
          const ch = await store.get(id);
          if (!ch || ch.status !== 'pending') settle(ch);
        }).catch(() => undefined);
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      timer = null;
      // Whoever still waits gets the current state now rather than a hang at shutdown.
      await Promise.all([...waiting.keys()].map((id) => store.get(id).then((ch) => wake(id, ch), () => wake(id, null))));
      sub.off('message', onMessage);
      sub.off('ready', onReady);
      await subscribed;
      if (ownsSubscriber) {
        await sub.quit().catch(() => sub.disconnect());
      } else {
        await sub.unsubscribe(channel).catch(() => undefined);
      }
    },
  };
}
