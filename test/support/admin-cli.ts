import { execFile } from 'node:child_process';
import { ADMIN_CLI } from './entry.js';

/*
 * The admin CLI (src/cli/main.ts) as an operator runs it, beside a running IdP. Never with
 * spawnSync in a test whose process also serves an IdP or talks to one with fetch: a CLI run holds
 * a blocked event loop for seconds, meanwhile the server closes idle keep-alive sockets that
 * fetch's pool cannot retire, and the next request meets one (ECONNRESET, "other side closed").
 */

export interface AdminCliOptions {
  /** Over this process's environment; jest's NODE_OPTIONS (--experimental-vm-modules) is left out. */
  env: NodeJS.ProcessEnv;
  /** Written to the CLI's stdin (e.g. a password for --password-stdin), then stdin is closed. */
  input?: string | Buffer;
  timeoutMs?: number;
}

export interface AdminCliResult {
  /** The exit code; null when it was ended by a signal (the timeout) or never started. */
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI without blocking this process; resolves with its exit code and output, whatever they are. */
export function runAdminCli(args: string[], opts: AdminCliOptions): Promise<AdminCliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [ADMIN_CLI, ...args], {
      env: { ...process.env, ...opts.env, NODE_OPTIONS: '' }, encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000,
    }, (err, stdout, stderr) => {
      const code = err ? (err as { code?: unknown }).code : 0;
      resolve({ status: typeof code === 'number' ? code : null, stdout, stderr });
    });
    child.stdin?.end(opts.input ?? '');
  });
}

/** A CLI step that must succeed: its stdout, or an error naming the command, its exit code and stderr. */
export async function adminCli(args: string[], opts: AdminCliOptions): Promise<string> {
  const r = await runAdminCli(args, opts);
  if (r.status !== 0) throw new Error(`admin ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
