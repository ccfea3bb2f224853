import path from 'node:path';
import { projectRoot } from '../http/paths.js';
import { addonFunction } from '../native/addon.js';

/**
 * Gives the C heap's free pages back to the system every few seconds (MEMORY_TRIM_INTERVAL), with
 * glibc's malloc_trim on libuv's thread pool (native/malloc-trim, built by `npm run build`).
 *
 * glibc returns memory by itself only from the top of a heap: what a burst of requests freed in
 * the middle (buffers, sockets, OpenSSL objects, between others still alive) stays resident. An
 * IdP holding 1,000 waiting sign-ins after a burst kept 6-9 MiB that way (bench/memory.ts,
 * docs/performance.md). One trim took 0.24 ms at the median and up to 5 ms, hence off the main thread.
 *
 * Process-wide: every IdP in the process holds it while it runs (createIdp), the first hold starts
 * the timer and the last release stops it, so tests that start many IdPs run one timer.
 */

/** Where `npm run build` puts it (scripts/build-native.mjs). */
export const MALLOC_TRIM_PATH = path.join('dist', 'native', 'malloc_trim.node');

/** One trim: resolves true when memory was given back. */
export type Trim = () => Promise<boolean>;

let loaded: { trim: Trim | null; why: string } | undefined;

/** The native trim in `file`, or null and why not. */
export function loadTrimFrom(file: string): { trim: Trim | null; why: string } {
  const found = addonFunction<Trim>(file, MALLOC_TRIM_PATH, 'trim');
  return found.fn ? { trim: found.fn, why: `native (${MALLOC_TRIM_PATH})` } : { trim: null, why: `off (${found.problem})` };
}

/** The built trim of this project, loaded once per process, or null. */
export function nativeTrim(): Trim | null {
  loaded ??= loadTrimFrom(path.join(projectRoot(), MALLOC_TRIM_PATH));
  return loaded.trim;
}

/**
 * A timer that trims every `everyMs`, never two at once (a trim still running when the next is due
 * is not doubled), and swallows a failed trim (memory stays as it was). The timer does not keep
 * the process alive. Pure of globals: the trim and the timer functions are given.
 */
export function trimTimer(trim: Trim, everyMs: number, timers: { set: typeof setInterval; clear: typeof clearInterval } = { set: setInterval, clear: clearInterval }) {
  let running = false;
  let trims = 0;
  const tick = () => {
    if (running) return;
    running = true;
    trim().then(() => { trims++; }, () => {}).finally(() => { running = false; });
  };
  const handle = timers.set(tick, everyMs);
  handle.unref?.();
  return {
    /** Trims that finished. */
    get trims() { return trims; },
    stop: () => timers.clear(handle),
  };
}

let holders = 0;
let timer: ReturnType<typeof trimTimer> | null = null;

/**
 * Holds the process-wide trimming while an IdP runs: returns its release. `everyMs` 0, or no built
 * trim, holds nothing. The first holder's interval is the one used.
 */
export function holdHeapTrim(everyMs: number, trim: Trim | null = nativeTrim()): () => void {
  if (everyMs <= 0 || !trim) return () => {};
  holders++;
  timer ??= trimTimer(trim, everyMs);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holders--;
    if (holders === 0) {
      timer?.stop();
      timer = null;
    }
  };
}

/** Whether the process-wide timer runs (tests). */
export function heapTrimRunning(): boolean {
  return timer !== null;
}

/** What the start-up log says: whether and how often the C heap is trimmed. */
export function heapTrimStatus(everyMs: number): string {
  if (everyMs <= 0) return 'off (MEMORY_TRIM_INTERVAL=0)';
  nativeTrim();
  return loaded!.trim ? `every ${everyMs / 1000} s, ${loaded!.why}` : loaded!.why;
}
