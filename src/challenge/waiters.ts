import { openSubscriber, type Redis } from '../storage/redis.js';
import { challengeFromMessage, resolvedChannel, type RedisChallengeStore } from './redis-store.js';
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
  /** At most this many ids are re-read per safety-net tick (default 500); the rest on the next ticks. */
  sweepBatch?: number;
  /** A connection to subscribe on; by default one is duplicated from `redis` and closed by close(). */
  subscriber?: Redis;
}

/**
 * Who is told when a held wait ends: an object with a method rather than a promise and its
 * closures, so a held long-poll costs one record of its own (src/http/long-poll.ts, issue 15).
 */
export interface WaitListener {
  /** The challenge once it is no longer pending, or as it stands at the deadline (null: unreadable or gone). Called once. */
  settled(ch: Challenge | null): void;
}

export interface ProcessChallengeWaiters extends ChallengeWaiters {
  /** How many challenge ids have someone waiting (for metrics and leak tests). */
  readonly waitingIds: number;
  /** As `wait`, telling `listener` instead of resolving a promise. False (and nothing held) once closed. */
  hold(id: string, timeoutMs: number, listener: WaitListener, readAt?: number): boolean;
}

type PeekingStore = ChallengeStore & Partial<Pick<RedisChallengeStore, 'peekStatuses'>>;

/**
 * One waiting caller: a small record instead of a closure, a Set and a timer each (10,000 waiting
 * pages over a process, issue 15). `listener` is null once settled.
 */
interface Waiter {
  readonly id: string;
  /** Tick (TICK_MS) at which it gives up and answers with the challenge as it stands. */
  readonly tick: number;
  listener: WaitListener | null;
}

/** `wait`'s promise as a listener. */
class Resolver implements WaitListener {
  constructor(private readonly resolve: (ch: Challenge | null) => void) {}
  settled(ch: Challenge | null): void {
    this.resolve(ch);
  }
}

/** Deadlines are kept in buckets of this many ms, and one timer serves the earliest bucket. */
const TICK_MS = 25;
/** How long the ids of announced resolutions are remembered (see `heard`). */
const HEARD_MS = 10_000;

export function createChallengeWaiters(
  redis: Redis,
  store: PeekingStore,
  opts: ChallengeWaitersOptions = {},
): ProcessChallengeWaiters {
  const channel = resolvedChannel(redis, opts.channel);
  const safetyNetMs = opts.safetyNetMs ?? 1000;
  const sweepBatch = Math.max(1, opts.sweepBatch ?? 500);
  const ownsSubscriber = !opts.subscriber;
  // A failover drops the subscriber's connection too; ioredis reconnects and resubscribes (see below),
  // and the safety net covers the gap (openSubscriber listens for its errors: no "Unhandled error event").
  const sub = opts.subscriber ?? openSubscriber(redis);
  /** Challenge id -> who waits on it (nearly always one). */
  const waiting = new Map<string, Waiter | Waiter[]>();
  /** Deadline tick -> the waiters that give up then; one timer, armed for the earliest tick. */
  const deadlines = new Map<number, Set<Waiter>>();
  let deadlineTimer: NodeJS.Timeout | null = null;
  let armedTick = Infinity;
  let timer: NodeJS.Timeout | null = null;
  let sweeping = false;
  /** Where the sweeps have got to in `waiting` (a live Map iterator), null to start from the top. */
  let cursor: Iterator<string> | null = null;
  let closed = false;
  /*
   * A caller that read the challenge as pending just before holding (readAt: performance.now()
   * before its read was sent) need not read it again once held, unless its resolution may have been
   * announced in between, before anyone here waited for it. So the ids announced in the last
   * HEARD_MS are remembered (in arrival order, the oldest dropped first), with since when messages
   * have been heard without a gap: a resolution that the caller's read did not see was published
   * after that read was sent, so its message arrives after readAt, or it is in a gap. One HMGET
   * fewer per long-poll (bench/signin-throughput.ts round trips).
   */
  const heard = new Map<string, number>();
  /** Messages are known heard from this time on (Infinity while not subscribed). */
  let hearingSince = Infinity;
  /** Ids announced up to this time may have been forgotten. */
  let forgottenUpTo = -Infinity;

  const onMessage = (ch: string, raw: string): void => {
    if (ch !== channel) return;
    const heardOf = challengeFromMessage(raw, Date.now());
    if (!heardOf) return;
    const { id, challenge } = heardOf;
    remember(id);
    if (!waiting.has(id)) return;
    // The record as the resolve script wrote it, read in that script: no need to read it again.
    if (challenge && challenge.status !== 'pending') wake(id, challenge);
    else void recheck(id);
  };

  function remember(id: string): void {
    const at = performance.now();
    for (const [old, when] of heard) {
      if (at - when <= HEARD_MS) break;
      heard.delete(old);
      forgottenUpTo = when;
    }
    heard.delete(id);
    heard.set(id, at);
  }

  /** Whether a resolution of `id` could have been announced since `readAt` without this process hearing it in time. */
  function mayHaveMissed(id: string, readAt: number | undefined): boolean {
    return readAt === undefined || sub.status !== 'ready' || hearingSince > readAt || readAt <= forgottenUpTo || heard.has(id);
  }

  // ioredis resubscribes after a reconnect; messages sent meanwhile are gone, so look at once.
  // Messages are heard again once a SUBSCRIBE sent now is answered (after ioredis's own resubscription).
  const onReady = (): void => {
    hearingSince = Infinity;
    sub.subscribe(channel).then(() => {
      if (sub.status === 'ready' && hearingSince === Infinity) hearingSince = performance.now();
    }, () => undefined);
    void sweep();
  };
  // From a dropped connection on, messages are lost until it is ready (and resubscribed) again.
  const onClose = (): void => {
    hearingSince = Infinity;
  };
  sub.on('message', onMessage);
  sub.on('ready', onReady);
  sub.on('close', onClose);
  // A failed subscription is not fatal: the safety net still wakes everyone, only later.
  const subscribed = sub.subscribe(channel).then(() => {
    if (hearingSince === Infinity && sub.status === 'ready') hearingSince = performance.now();
  }, () => undefined);

  function wake(id: string, ch: Challenge | null): void {
    const entry = waiting.get(id);
    if (!entry) return;
    waiting.delete(id);
    if (Array.isArray(entry)) for (const w of entry) settle(w, ch);
    else settle(entry, ch);
    idleCheck();
  }

  /** Answers one waiter once: out of the index and its deadline bucket, then resolved. */
  function settle(w: Waiter, ch: Challenge | null): void {
    const listener = w.listener;
    if (!listener) return;
    w.listener = null;
    remove(w);
    const bucket = deadlines.get(w.tick);
    if (bucket) {
      bucket.delete(w);
      if (bucket.size === 0) deadlines.delete(w.tick);
    }
    listener.settled(ch);
  }

  function add(w: Waiter): void {
    const entry = waiting.get(w.id);
    waiting.set(w.id, entry === undefined ? w : Array.isArray(entry) ? [...entry, w] : [entry, w]);
    const bucket = deadlines.get(w.tick);
    if (bucket) bucket.add(w);
    else deadlines.set(w.tick, new Set([w]));
    if (w.tick < armedTick) arm(w.tick);
  }

  function remove(w: Waiter): void {
    const entry = waiting.get(w.id);
    if (entry === w) waiting.delete(w.id);
    else if (Array.isArray(entry)) {
      const rest = entry.filter((x) => x !== w);
      if (rest.length === 0) waiting.delete(w.id);
      else waiting.set(w.id, rest.length === 1 ? rest[0]! : rest);
    }
    idleCheck();
  }

  function arm(tick: number): void {
    if (deadlineTimer) clearTimeout(deadlineTimer);
    armedTick = tick;
    deadlineTimer = setTimeout(onDeadline, Math.max(0, tick * TICK_MS - performance.now()));
  }

  /** Whoever's time is up gets the challenge as it stands now (or null if it cannot be read). */
  function onDeadline(): void {
    deadlineTimer = null;
    armedTick = Infinity;
    const nowTick = Math.floor(performance.now() / TICK_MS);
    let next = Infinity;
    for (const [tick, bucket] of deadlines) {
      if (tick > nowTick) {
        if (tick < next) next = tick;
        continue;
      }
      deadlines.delete(tick);
      for (const w of bucket) {
        remove(w);
        store.get(w.id).then((ch) => settle(w, ch), () => settle(w, null));
      }
    }
    if (next !== Infinity && !closed) arm(next);
  }

  /** A message without the record (redis-store.ts ResolvedMessage) is only a hint: the record in Redis is the truth. */
  async function recheck(id: string): Promise<void> {
    try {
      const ch = await store.get(id);
      if (!ch || ch.status !== 'pending') wake(id, ch);
    } catch {
      // Redis hiccup: the next sweep tries again.
    }
  }

  /**
   * Re-reads up to `sweepBatch` of the ids waited on, going on where the last sweep stopped: with
   * 10,000 pages waiting, re-reading every id every second (one HMGET each) held the event loop
   * long enough to show in every wake-up's p99; the net is for lost messages, a few seconds is fine.
   */
  async function sweep(): Promise<void> {
    if (sweeping || waiting.size === 0) return;
    sweeping = true;
    try {
      const ids: string[] = [];
      cursor ??= waiting.keys();
      for (let r = cursor.next(); ; r = cursor.next()) {
        if (r.done) {
          cursor = null; // came to the end: the next sweep starts from the top
          break;
        }
        ids.push(r.value);
        if (ids.length >= sweepBatch) break;
      }
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

  function hold(id: string, timeoutMs: number, listener: WaitListener, readAt?: number): boolean {
    if (closed) return false;
    // As setTimeout would: a time that is not a finite number gives up at once.
    const ms = Number.isFinite(timeoutMs) ? Math.max(0, timeoutMs) : 0;
    const w: Waiter = { id, tick: Math.ceil((performance.now() + ms) / TICK_MS), listener };
    add(w);
    idleCheck();
    // Read only once registered and subscribed: a resolution landing in between is then either
    // seen by this read or announced to us, never neither. A caller's own read just before
    // stands for it when nothing about this id can have been missed since (see `heard`).
    if (!mayHaveMissed(id, readAt)) return true;
    subscribed.then(() => store.get(id)).then((ch) => {
      if (!ch || ch.status !== 'pending') settle(w, ch);
    }, () => undefined);
    return true;
  }

  return {
    get waitingIds() {
      return waiting.size;
    },

    wait(id, timeoutMs, readAt) {
      if (closed) return Promise.reject(new Error('challenge waiters are closed'));
      return new Promise<Challenge | null>((resolve) => {
        hold(id, timeoutMs, new Resolver(resolve), readAt);
      });
    },

    hold,

    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      timer = null;
      if (deadlineTimer) clearTimeout(deadlineTimer);
      deadlineTimer = null;
      // Whoever still waits gets the current state now rather than a hang at shutdown.
      await Promise.all([...waiting.keys()].map((id) => store.get(id).then((ch) => wake(id, ch), () => wake(id, null))));
      sub.off('message', onMessage);
      sub.off('ready', onReady);
      sub.off('close', onClose);
      await subscribed;
      if (ownsSubscriber) {
        await sub.quit().catch(() => sub.disconnect());
      } else {
        await sub.unsubscribe(channel).catch(() => undefined);
      }
    },
  };
}
