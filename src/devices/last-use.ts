import type { Db } from '../storage/db.js';

/**
 * A confirmed device's "last used", written behind: its signed calls note the time here and one
 * UPDATE a second writes every device noted since. Last use is what the account page shows and
 * what an operator reads to find idle phones; nothing is decided on it once the device is
 * confirmed, so a second's delay costs nothing, while a write per call cost a statement (and a
 * commit) on every challenge fetch and every poll (bench/README.md, round trips per sign-in).
 *
 * A device's FIRST signed call confirms it (registry LIVE): that one is still written at once by
 * the caller (device-api/device-auth.ts), never here. An answer records its own last use in the
 * statement that accepts its TOTP step (registry acceptAnswerStep); the UPDATE below never moves a
 * time backwards, so a late flush cannot undo it.
 */
export interface LastUseWriter {
  /** Remember that device `id` was used at `at`; written within `flushMs`. */
  note(id: string, at: Date): void;
  /** Writes what is noted now (tests; shutdown). */
  flush(): Promise<void>;
  /** Flushes and stops the timer. */
  close(): Promise<void>;
}

export interface LastUseOptions {
  flushMs?: number;
  /** Devices held at most; reaching it writes at once. */
  max?: number;
  onError?: (err: unknown) => void;
}

const UPDATE = `UPDATE devices AS d SET last_used_at = v.at
  FROM jsonb_to_recordset($1::jsonb) AS v(id text, at timestamptz)
  WHERE d.id = v.id AND d.last_used_at IS NOT NULL AND d.last_used_at < v.at`;

export function createLastUseWriter(db: Db, { flushMs = 1000, max = 500, onError }: LastUseOptions = {}): LastUseWriter {
  let noted = new Map<string, Date>();
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> = Promise.resolve();

  const write = (): Promise<void> => {
    if (timer) { clearTimeout(timer); timer = null; }
    if (noted.size === 0) return writing;
    const rows = [...noted].map(([id, at]) => ({ id, at: at.toISOString() }));
    noted = new Map();
    // One statement at a time: a second batch waits for the first, so their order holds.
    writing = writing.then(() => db.query(UPDATE, [JSON.stringify(rows)])).then(() => undefined, (err: unknown) => { onError?.(err); });
    return writing;
  };

  return {
    note(id, at) {
      const seen = noted.get(id);
      if (!seen || seen < at) noted.set(id, at);
      if (noted.size >= max) { void write(); return; }
      if (!timer) {
        timer = setTimeout(() => { void write(); }, flushMs);
        timer.unref();
      }
    },
    flush: write,
    close: write,
  };
}
