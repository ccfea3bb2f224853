import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * The stand-in for Redis of the zero-setup default lives in the IdP's own heap. Red-team
 * (zero-setup round): records from anonymous requests grew it until the process died out of
 * memory, losing every lockout, mute and pending sign-in with it. Near the heap's limit it now
 * refuses writes as a full Redis under `noeviction` does (the IdP answers 503 to those, as for a
 * full Redis), reads go on, and once keys lapse it takes writes again. Run in a process of its own
 * with a small heap (the compiled dist/, as `npm start` runs).
 */
describe('the stand-in near the heap limit', () => {
  it('refuses writes with OOM instead of dying, keeps serving reads, and takes writes again once keys lapse', () => {
    const redisModule = pathToFileURL(path.resolve('dist/src/storage/redis.js')).href;
    const child = `
import { openRedis } from ${JSON.stringify(redisModule)};
const r = openRedis(null, 'full:');
const big = 'x'.repeat(20000);
await r.set('witness', big);
let written = 0, refused = null;
for (; written < 20000; written++) {
  try { await r.eval("redis.call('SET', KEYS[1], ARGV[1], 'PX', 3000) return 1", 1, 'k' + written, big + written); }
  catch (e) { refused = e.message; break; }
}
let plainSet = 'ok';
try { await r.set('new-key', 'v'); } catch (e) { plainSet = e.message; }
const read = (await r.get('witness'))?.length ?? null;
await new Promise((res) => setTimeout(res, 4500));
globalThis.gc();
let after = 'ok';
try { await r.eval("redis.call('SET', KEYS[1], ARGV[1]) return 1", 1, 'later', 'v'); } catch (e) { after = e.message; }
console.log(JSON.stringify({ written, refused, plainSet, read, after, later: await r.get('later') }));
r.disconnect();
`;
    const run = spawnSync(process.execPath, ['--max-old-space-size=96', '--expose-gc', '--input-type=module', '-e', child], { encoding: 'utf8', timeout: 90_000, env: { ...process.env, NODE_OPTIONS: '' } });
    expect(run.stderr).not.toMatch(/heap out of memory|FATAL/);
    expect(run.status).toBe(0);
    const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(out).toEqual({
      written: expect.any(Number),
      refused: expect.stringMatching(/^OOM command not allowed/),
      plainSet: expect.stringMatching(/^OOM command not allowed/),
      read: 20000,
      after: 'ok',
      later: 'v',
    });
    // It held what the heap allowed first (20 KB records in a 96 MB old space).
    expect(out.written as number).toBeGreaterThan(500);
  }, 120_000);
});
