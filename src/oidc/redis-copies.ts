/**
 * Which sessions may have an anonymous copy in Redis, as far as this process can tell (the Session
 * adapter, adapters.ts): the ids it found there or wrote there, each until that copy has lapsed
 * (`ttlMs`, ANONYMOUS_SESSION_TTL). oidc-provider saves a session only in the request that loaded
 * it (through this process's adapter) or made it (a fresh random id, never stored), so an id that
 * has a copy in Redis when it is saved signed in is one noted here. Past `max` ids (a flood of
 * anonymous `GET /session/end`), it forgets them all and answers "may exist" for every id until
 * the last noted copy has lapsed: the map stays small, and no copy is ever missed.
 */
export class RedisCopies {
  private readonly until = new Map<string, number>();
  private everyUntil = 0;

  constructor(private readonly now: () => number, private readonly ttlMs: number, private readonly max = 10_000) {}

  /** A copy of `id` is in Redis now (found or written), for at most `ttlMs`. */
  note(id: string): void {
    const now = this.now();
    this.prune(now);
    if (this.until.size >= this.max) {
      this.until.clear();
      this.everyUntil = now + this.ttlMs;
    }
    // Re-inserted at the end: the map stays in order of expiry (one TTL for all), so prune stops early.
    this.until.delete(id);
    this.until.set(id, now + this.ttlMs);
  }

  /** Whether Redis may hold a copy of `id`. */
  mayExist(id: string): boolean {
    const now = this.now();
    return now < this.everyUntil || (this.until.get(id) ?? 0) > now;
  }

  /** The copy of `id` is gone (deleted). */
  forget(id: string): void {
    this.until.delete(id);
  }

  get size(): number {
    return this.until.size;
  }

  private prune(now: number): void {
    for (const [id, until] of this.until) {
      if (until > now) break;
      this.until.delete(id);
    }
  }
}
