/**
 * Duplicate detection (RFC 5080 section 2.2.2): a NAS that hears nothing retransmits the same
 * request (same source address and port, Identifier and Request Authenticator). A retransmission
 * must get the very reply the first one got, and must not run a second sign-in attempt (a second
 * password guess counted, a second push sent, a TOTP step spent twice). One being answered is
 * ignored: its reply goes out when ready. Bounded: the oldest entries make way, and answered ones
 * are forgotten after `ttlMs`.
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

interface Entry {
  reply: Buffer | null;
  answeredAt: number | null;
}

export interface DuplicateCache {
  lookup(key: string): DuplicateLookup;
  readonly size: number;
}

export function duplicateKey(address: string, port: number, identifier: number, authenticator: Buffer): string {
  return `${address}|${port}|${identifier}|${authenticator.toString('hex')}`;
}

export function createDuplicateCache(opts: { max: number; ttlMs: number; now: () => number }): DuplicateCache {
  // Insertion order is age order: the first keys are the oldest.
  const entries = new Map<string, Entry>();

  const expire = () => {
    // From the oldest, up to the first still-wanted entry: each packet costs little however full.
    const now = opts.now();
    for (const [key, e] of entries) {
      if (e.answeredAt === null || now - e.answeredAt <= opts.ttlMs) break;
      entries.delete(key);
    }
    while (entries.size >= opts.max) entries.delete(entries.keys().next().value!);
  };

  return {
    get size() {
      return entries.size;
    },
    lookup(key) {
      const seen = entries.get(key);
      if (seen && (seen.answeredAt === null || opts.now() - seen.answeredAt <= opts.ttlMs)) {
        if (seen.answeredAt === null) return { kind: 'in-progress' };
        if (seen.reply) return { kind: 'answered', reply: seen.reply };
      }
      expire();
      const entry: Entry = { reply: null, answeredAt: null };
      entries.set(key, entry);
      return {
        kind: 'new',
        done(reply) {
          // Nothing sent (trouble on our side): a retransmission may try again.
          if (!reply) {
            if (entries.get(key) === entry) entries.delete(key);
            return;
          }
          entry.reply = reply;
          entry.answeredAt = opts.now();
        },
      };
    },
  };
}
