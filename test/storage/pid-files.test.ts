import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { issuerForCli, recordRunningIssuer } from '../../src/config/running-issuer.js';
import { pgliteHolder, takePgliteLock } from '../../src/storage/lock.js';

/**
 * The two records a running IdP keeps in its data folder, each naming its process: the embedded
 * database's lock (a second process must not open it and overwrite its changes) and the running
 * server's issuer (the admin CLI's links name the port the server really runs on). Each is
 * written by another real process here; one that crashed leaves a stale record that must neither
 * block nor mislead.
 */
describe('pid files in the data folder', () => {
  const dirs: string[] = [];
  const holders: ChildProcess[] = [];
  const dataDir = () => { const d = mkdtempSync(path.join(os.tmpdir(), 'pid-files-')); dirs.push(d); return d; };
  afterAll(() => {
    for (const p of holders) if (p.exitCode === null) p.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** Another process that runs `code` (with the data folder as process.argv[1]) and stays alive. */
  async function otherProcess(code: string, dir: string): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `${code}\nprocess.stdout.write('ready\\n'); setInterval(() => {}, 1000);`, dir], {
      env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    holders.push(child);
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (b: Buffer) => { out += b; if (out.includes('ready')) resolve(); });
      child.stderr!.on('data', (b: Buffer) => { out += b; });
      child.once('exit', () => reject(new Error(`the other process exited: ${out}`)));
    });
    return child;
  }

  const crash = async (child: ChildProcess) => {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };

  it('refuses the embedded database to a second process, naming the holder; a crashed holder\'s lock is taken over', async () => {
    const dir = dataDir();
    const holder = await otherProcess("import { takePgliteLock } from './src/storage/lock.ts'; takePgliteLock(process.argv[1]);", dir);
    expect(pgliteHolder(dir)).toBe(holder.pid);
    expect(() => takePgliteLock(dir)).toThrow(`the embedded database in ${dir} is in use by process ${holder.pid}`);

    await crash(holder); // no shutdown code ran: the lock file is still there
    expect(pgliteHolder(dir)).toBeNull();
    const release = takePgliteLock(dir);
    // This process's own lock does not count as another holder; released, it is gone.
    expect(pgliteHolder(dir)).toBeNull();
    release();
    expect(takePgliteLock(dir)).toEqual(expect.any(Function));
  }, 60_000);

  it('names the running server\'s issuer to the CLI while it lives, unless ISSUER is set for the CLI', async () => {
    const dir = dataDir();
    const fallback = 'http://localhost:3000';
    expect(issuerForCli({}, dir, fallback)).toBe(fallback);
    const server = await otherProcess("import { recordRunningIssuer } from './src/config/running-issuer.ts'; recordRunningIssuer(process.argv[1], 'http://127.0.0.1:4123');", dir);
    expect(issuerForCli({}, dir, fallback)).toBe('http://127.0.0.1:4123');
    expect(issuerForCli({ ISSUER: 'https://idp.example.com' }, dir, 'https://idp.example.com')).toBe('https://idp.example.com');

    await crash(server);
    expect(issuerForCli({}, dir, fallback)).toBe(fallback);
    // This process's own record is not another server's.
    const forget = recordRunningIssuer(dir, 'http://127.0.0.1:4999');
    expect(issuerForCli({}, dir, fallback)).toBe(fallback);
    forget();
  }, 60_000);
});
