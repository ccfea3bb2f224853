/**
 * The C heap's free pages go back to the system (src/observability/heap-trim.ts, native/malloc-trim):
 * the built trim really shrinks a process's resident memory that glibc kept after a burst of frees,
 * the timer never runs two trims at once and survives a failing one, and the process-wide hold
 * starts one timer for many IdPs and stops it with the last.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { heapTrimRunning, heapTrimStatus, holdHeapTrim, loadTrimFrom, MALLOC_TRIM_PATH, nativeTrim, trimTimer, type Trim } from '../../src/observability/heap-trim.js';
import { projectRoot } from '../../src/http/paths.js';

describe('native malloc_trim', () => {
  it('is built and loaded, and a trim resolves to whether memory went back', async () => {
    expect(heapTrimStatus(1000)).toBe(`every 1 s, native (${MALLOC_TRIM_PATH})`);
    const trim = nativeTrim();
    expect(trim).not.toBeNull();
    await expect(trim!()).resolves.toEqual(expect.any(Boolean));
  });

  it('gives back what glibc kept after frees between live allocations (a process of its own)', () => {
    // 160 MiB of 4 KiB buffers from the C heap; every eighth stays alive, so glibc cannot give the
    // rest back from the heap's top. Resident memory after the frees, then after one trim.
    const script = `
      import { createRequire } from 'node:module';
      import { readFileSync } from 'node:fs';
      const anon = () => Number(/RssAnon:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
      const { trim } = createRequire(import.meta.url)(${JSON.stringify(path.join(projectRoot(), MALLOC_TRIM_PATH))});
      let all = Array.from({ length: 40000 }, () => Buffer.allocUnsafeSlow(4096).fill(1));
      const kept = all.filter((_, i) => i % 8 === 0);
      all = null;
      for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 100)); }
      const before = anon();
      const released = await trim();
      const after = anon();
      console.log(JSON.stringify({ before, after, released, kept: kept.length }));
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' })) as { before: number; after: number; released: boolean; kept: number };
    expect(out.kept).toBe(5000);
    expect(out.released).toBe(true);
    // About 140 MiB was freed in the middle of the heap: most of it leaves the process.
    expect(out.before - out.after).toBeGreaterThan(80);
  });

  it('says why not when the file is missing or is not the addon', () => {
    expect(loadTrimFrom('/nonexistent/malloc_trim.node')).toEqual({ trim: null, why: expect.stringMatching(/^off \(.* was not built/) });
    expect(loadTrimFrom(path.join(projectRoot(), 'package.json')).trim).toBeNull();
    expect(heapTrimStatus(0)).toBe('off (MEMORY_TRIM_INTERVAL=0)');
  });
});

describe('trimTimer', () => {
  afterEach(() => { jest.useRealTimers(); });

  it('trims on each tick, never two at once, and goes on after a failed trim', async () => {
    jest.useFakeTimers();
    const pending: Array<(v: boolean) => void> = [];
    let calls = 0;
    const trim: Trim = () => { calls++; return calls === 2 ? Promise.reject(new Error('boom')) : new Promise((resolve) => pending.push(resolve)); };
    const t = trimTimer(trim, 1000);
    jest.advanceTimersByTime(1000);
    expect(calls).toBe(1);
    jest.advanceTimersByTime(3000); // the first is still running: no second
    expect(calls).toBe(1);
    pending.shift()!(true);
    await jest.runOnlyPendingTimersAsync();
    expect(t.trims).toBe(1);
    expect(calls).toBe(2); // the failing one
    await Promise.resolve();
    jest.advanceTimersByTime(1000);
    await jest.runOnlyPendingTimersAsync();
    expect(calls).toBeGreaterThanOrEqual(3); // it went on
    t.stop();
    const after = calls;
    jest.advanceTimersByTime(10_000);
    expect(calls).toBe(after);
  });
});

describe('holdHeapTrim', () => {
  it('one timer for every holder, stopped with the last release; 0 or no trim holds nothing', () => {
    const trim: Trim = async () => true;
    expect(heapTrimRunning()).toBe(false);
    const a = holdHeapTrim(1000, trim);
    const b = holdHeapTrim(1000, trim);
    expect(heapTrimRunning()).toBe(true);
    a();
    a(); // a second release of the same hold changes nothing
    expect(heapTrimRunning()).toBe(true);
    b();
    expect(heapTrimRunning()).toBe(false);
    holdHeapTrim(0, trim)();
    holdHeapTrim(1000, null);
    expect(heapTrimRunning()).toBe(false);
  });
});
