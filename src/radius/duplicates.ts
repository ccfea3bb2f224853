/**
 * Duplicate detection (RFC 5080 section 2.2.2): a NAS that hears nothing retransmits the same
 * request (same source address and port, Identifier and Request Authenticator). A retransmission
 * must get the very reply the first one got, and must not run a second sign-in attempt (a second
 * password guess counted, a second push sent, a TOTP step spent twice). One being answered is
 * ignored: its reply goes out when ready.
 *
 * Bounded, per NAS: each NAS keeps at most `max` answered requests, forgotten after `ttlMs`, the
 * oldest making way. A request still being answered (held waiting for a phone) is never made to
 * make way: the server's in-flight cap bounds those (red-team: 10,000 cheap requests from any NAS
 * pushed a held request out of one shared cache, and its retransmission then ran a second sign-in
 * with a second push, or, after a challenge, spent its State and drew an Access-Reject the NAS took
 * while the user was still approving).
 *
 * Process memory: a NAS retransmits to the address it sent to, so the process that took a request
 * sees its retransmissions (docs/radius.md, "Several instances").
 */
export type DuplicateLookup =
  /** New: handle it, then call `done`. */
  | { kind: 'new'; done(reply: Buffer | null): void }
  /** Seen and still being answered: drop this copy. */
  | { kind: 'in-progress' }
  /** Seen and answered: send this again. */
  | { kind: 'answered'; reply: Buffer };

interface Answered {
  reply: Buffer;
  at: number;
}

export interface DuplicateCache {
  /** `nas`: the client the request came from (each has its own share); `key`: duplicateKey(). */
  lookup(nas: string, key: string): DuplicateLookup;
  readonly size: number;
}

export function duplicateKey(address: string, port: number, identifier: number, authenticator: Buffer): string {
  return `${address}|${port}|${identifier}|${authenticator.toString('hex')}`;
}

export function createDuplicateCache(opts: { max: number; ttlMs: number; now: () => number }): DuplicateCache {
  /** Requests being answered, by NAS and key: each leaves by its `done`. */
  const inProgress = new Set<string>();
  /** Per NAS, answered requests in age order (insertion order: the first keys are the oldest). */
  const answered = new Map<string, Map<string, Answered>>();
  let answeredCount = 0;

  const fresh = (a: Answered | undefined, now: number): a is Answered => a !== undefined && now - a.at <= opts.ttlMs;

  /** From the oldest, up to the first still-wanted entry, then down to under the bound: each packet costs little however full. */
  const expire = (own: Map<string, Answered>, now: number) => {
    for (const [key, a] of own) {
      if (fresh(a, now) && own.size < opts.max) break;
      own.delete(key);
      answeredCount--;
    }
  };

  return {
    get size() {
      return inProgress.size + answeredCount;
    },
    lookup(nas, key) {
      const id = `${nas}|${key}`;
      if (inProgress.has(id)) return { kind: 'in-progress' };
      const now = opts.now();
      const own = answered.get(nas);
      const seen = own?.get(key);
      if (fresh(seen, now)) return { kind: 'answered', reply: seen.reply };
      inProgress.add(id);
      let open = true;
      return {
        kind: 'new',
        done(reply) {
          if (!open) return;
          open = false;
          inProgress.delete(id);
          // Nothing sent (trouble on our side): a retransmission may try again.
          if (!reply) return;
          let mine = answered.get(nas);
          if (!mine) answered.set(nas, (mine = new Map()));
          if (mine.delete(key)) answeredCount--;
          expire(mine, opts.now());
          mine.set(key, { reply, at: opts.now() });
          answeredCount++;
        },
      };
    },
  };
}
