import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import type { Redis as Single } from 'ioredis';

/** How often lapsed keys are looked for (ms). Redis's own active expiry runs ten times a second. */
export const STANDIN_SWEEP_MS = 1000;

/**
 * The stand-in's `maxmemory`: past this share of the process's heap limit it refuses what would add
 * a key, and every script, as a full Redis under `noeviction` does ("OOM command not allowed"), so
 * that the IdP answers 503 (http/errors.ts) and keeps its counters, instead of dying out of memory.
 */
export const STANDIN_HEAP_SHARE = 0.8;
const OOM = "OOM command not allowed when used memory > 'maxmemory'.";

/** The parts of ioredis-mock's instance this module reaches into (its own objects, by their names). */
interface MockInternals {
  expires: { set(key: string, at: number): void };
  data: {
    has(key: string): boolean;
    set(key: string, value: unknown): void;
    [other: string]: unknown;
  };
  disconnect(): void;
  quit(): Promise<unknown>;
  eval(...args: unknown[]): Promise<unknown>;
  evalsha(...args: unknown[]): Promise<unknown>;
}

/**
 * Whether the heap is past STANDIN_HEAP_SHARE of its limit, read at most every 50 ms. The limit
 * V8 reports counts the young generation's reserve too (48 MiB by default), which the old space,
 * where stored keys live, can never use: at least 64 MiB is kept below it.
 */
function heapGauge(share: number): () => boolean {
  const reported = v8.getHeapStatistics().heap_size_limit;
  const limit = reported - Math.max(reported * (1 - share), 64 * 1024 * 1024);
  let readAt = -Infinity;
  let full = false;
  return () => {
    const now = performance.now();
    if (now - readAt > 50) {
      readAt = now;
      full = v8.getHeapStatistics().used_heap_size > limit;
    }
    return full;
  };
}

/**
 * Pure: a stored value with every string in it copied into one flat string. A string a Lua script
 * writes comes out of the stand-in's Lua engine (fengari) built one character at a time: a chain of
 * one-character pieces that V8 keeps as they are, about 32 bytes of heap per character (red-team: a
 * 533-byte sign-in record held 16.7 KB, a 24 KB one 787 KB). Copied, it takes its own length.
 */
export function flatValue(value: unknown): unknown {
  if (typeof value === 'string') return value.length < 16 ? value : Buffer.from(value, 'utf16le').toString('utf16le');
  if (Array.isArray(value)) return value.map(flatValue);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [flatValue(k), flatValue(v)]));
  if (value instanceof Set) return new Set([...value].map(flatValue));
  if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, flatValue(v)]));
  }
  return value;
}

/**
 * The in-process stand-in for Redis of the zero-setup default (ioredis-mock; one process, nothing
 * shared between instances), made to hold an IdP's state for as long as the process runs:
 * - A key past its expiry is freed, as Redis's active expiry frees it. ioredis-mock drops such a key
 *   only when that very key is read again, and nobody reads an abandoned sign-in's records again
 *   (red-team: anonymous `GET /auth` requests, each leaving records that outlived their hour, grew
 *   the process until it died out of memory). Every key given an expiry is noted, and once a second
 *   those whose time has come are looked up, which drops them.
 * - Every string is stored flat (flatValue).
 * - Near the heap's limit it refuses writes, as a full Redis does (STANDIN_HEAP_SHARE).
 */
export function openStandIn(prefix: string): Single {
  // Loaded only when used: the stand-in costs a few MiB that a production process never needs.
  const RedisMock = createRequire(import.meta.url)('ioredis-mock') as typeof Single;
  const client = new RedisMock({ keyPrefix: prefix });
  const mock = client as unknown as MockInternals;

  const full = heapGauge(STANDIN_HEAP_SHARE);
  const data = mock.data;
  // A script is refused before it runs or runs whole, as Redis refuses one for memory before its
  // first write only: no write inside a running script is refused (the stand-in runs a script in
  // one synchronous call, during which this is set).
  let inScript = false;
  mock.data = Object.freeze({
    ...data,
    set: (key: string, value: unknown) => {
      if (!inScript && full() && !data.has(key)) throw new Error(OOM);
      data.set(key, flatValue(value));
    },
  });
  for (const name of ['eval', 'evalsha'] as const) {
    const run = mock[name].bind(mock);
    mock[name] = (...args: unknown[]) => {
      if (full()) return Promise.reject(new Error(OOM));
      inScript = true;
      try {
        return run(...args);
      } finally {
        inScript = false;
      }
    };
  }

  // Keys by the second they lapse in, and each key's second: a sweep looks at the seconds past only.
  const bySecond = new Map<number, Set<string>>();
  const secondOf = new Map<string, number>();
  const setExpiry = mock.expires.set.bind(mock.expires);
  mock.expires.set = (key, at) => {
    const k = flatValue(key) as string;
    const second = Math.ceil(Number(at) / 1000);
    const was = secondOf.get(k);
    if (was !== second) {
      if (was !== undefined) bySecond.get(was)?.delete(k);
      secondOf.set(k, second);
      let keys = bySecond.get(second);
      if (!keys) bySecond.set(second, (keys = new Set()));
      keys.add(k);
    }
    setExpiry(key, at);
  };
  const sweep = () => {
    const now = Date.now();
    for (const [second, keys] of bySecond) {
      if (second * 1000 > now) continue;
      bySecond.delete(second);
      for (const key of keys) {
        secondOf.delete(key);
        // has() drops a key whose expiry has passed; one given no expiry since stays.
        data.has(key);
      }
    }
  };
  const timer = setInterval(sweep, STANDIN_SWEEP_MS);
  timer.unref();
  const stop = () => { clearInterval(timer); bySecond.clear(); secondOf.clear(); };
  const disconnect = mock.disconnect.bind(mock);
  const quit = mock.quit.bind(mock);
  mock.disconnect = () => { stop(); disconnect(); };
  mock.quit = async () => { stop(); return quit(); };
  return client;
}
