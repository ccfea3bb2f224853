import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * SIGTERM (or SIGINT) that arrives while a process is starting, or right after it printed its
 * banner, stops it cleanly once it has started. Before, the handlers were installed only after the
 * start returned: a signal in between met none and killed the process outright (a CI run under load
 * sent SIGTERM to `npm run radius` on seeing its banner: exit by signal, no "stopped"). Run on the
 * compiled dist/ as `npm start` and `npm run radius` run it.
 */
describe('a signal during the start', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s while starting: the start finishes, then the process stops once and exits 0', async (signal) => {
    const runProcess = pathToFileURL(path.resolve('dist/src/run-process.js')).href;
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
import { runProcess } from ${JSON.stringify(runProcess)};
runProcess(async () => {
  process.stdout.write('starting\\n');
  await new Promise((r) => setTimeout(r, 800));
  process.stdout.write('up\\n');
  return { stop: async (s) => { process.stdout.write('stopped on ' + s + '\\n'); }, stopLimitMs: 5000 };
});
`], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    let out = '';
    const sent = new Promise<void>((resolve) => child.stdout.on('data', (b: Buffer) => {
      out += b;
      if (out.includes('starting') && !out.includes('up')) { child.kill(signal); child.kill(signal); resolve(); }
    }));
    child.stderr.on('data', (b: Buffer) => { out += b; });
    const exited = await new Promise<{ code: number | null; by: string | null }>((resolve) => child.on('exit', (code, by) => resolve({ code, by })));
    await sent;
    expect(exited).toEqual({ code: 0, by: null });
    expect(out).toBe(`starting\nup\nstopped on ${signal}\n`);
  }, 30_000);
});
