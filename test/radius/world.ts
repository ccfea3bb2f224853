import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RadiusServer } from '../../src/radius/index.js';
import { testRp } from '../support/idp.js';
import { PushWorld } from '../support/push-world.js';

/**
 * A push sign-in world (test/support/push-world.ts: the IdP on PostgreSQL and Redis, the push
 * service double, alice) whose CONFIG_DIR also holds config/radius/*.json, with the RADIUS door
 * listening on 127.0.0.1, and Debian's radclient to talk to it.
 */
export interface RadiusWorld {
  w: PushWorld;
  server: RadiusServer;
  port: number;
  /** The shared secret of each client, by name. */
  secrets: Record<string, string>;
  close(): Promise<void>;
}

/** A long random secret, as the config requires. */
export const newSecret = () => randomBytes(30).toString('base64');

export async function startRadiusWorld(clients: Record<string, unknown>[]): Promise<RadiusWorld> {
  const configDir = mkdtempSync(path.join(os.tmpdir(), 'idp-radius-config-'));
  mkdirSync(path.join(configDir, 'clients'));
  mkdirSync(path.join(configDir, 'radius'));
  cpSync(path.resolve('config/demo'), path.join(configDir, 'demo'), { recursive: true });
  writeFileSync(path.join(configDir, 'clients', 'test-rp.json'), JSON.stringify(testRp({ login: { consent: 'implicit' } })));
  const secrets: Record<string, string> = {};
  // Each test enrolls its own phone: room for many.
  const env: Record<string, string> = { CONFIG_DIR: configDir, RADIUS_PORT: '0', RADIUS_HOST: '127.0.0.1', MAX_DEVICES_PER_ACCOUNT: '100' };
  for (const c of clients) {
    const name = String(c.name);
    const secretEnv = `RADIUS_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
    secrets[name] = newSecret();
    env[secretEnv] = secrets[name];
    writeFileSync(path.join(configDir, 'radius', `${name}.json`), JSON.stringify({ secretEnv, ...c }));
  }
  const w = await PushWorld.start({ idp: { storage: 'postgres', env } });
  try {
    const server = await w.t.idp.radius.listen(0, '127.0.0.1');
    return {
      w, server, port: server.address().port, secrets,
      async close() {
        await w.close();
        rmSync(configDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await w.close();
    throw err;
  }
}

export interface RadclientResult {
  /** 'Access-Accept', 'Access-Reject', 'Access-Challenge', or null when no reply came. */
  code: string | null;
  /** The reply's attributes as radclient prints them (strings unquoted). */
  attributes: Record<string, string>;
  /** Their names in the order of the packet. */
  order: string[];
  /** radclient's whole output: the exchange as the lead can show it. */
  transcript: string;
  exitCode: number | null;
}

/** Every exchange of a test file, to print at its end (docs/radius.md shows some). */
export const transcripts: string[] = [];

/**
 * Debian's radclient sends one Access-Request (`attributes` in its input syntax, e.g.
 * `User-Name = "alice", User-Password = "pw", Message-Authenticator = 0x00`), once (-r 1), and
 * waits `timeoutSeconds` for the reply, to `server` (127.0.0.1 unless said). Asynchronous: the IdP answering it runs in this process.
 */
export function radclient(opts: { port: number; secret: string; attributes: string; timeoutSeconds?: number; label?: string; server?: string }): Promise<RadclientResult> {
  const args = ['-d', '/usr/share/freeradius', '-x', '-r', '1', '-t', String(opts.timeoutSeconds ?? 10), `${opts.server ?? '127.0.0.1'}:${opts.port}`, 'auth', opts.secret];
  return new Promise((resolve, reject) => {
    const child = spawn('radclient', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    child.on('error', reject);
    child.on('close', (exitCode) => {
      const transcript = `$ echo '${opts.attributes}' | radclient ${args.slice(0, -1).join(' ')} <secret>\n${output}`;
      transcripts.push(`# ${opts.label ?? 'exchange'}\n${transcript}`);
      resolve({ ...parseReply(output), transcript, exitCode });
    });
    child.stdin.end(`${opts.attributes}\n`);
  });
}

function parseReply(output: string): Pick<RadclientResult, 'code' | 'attributes' | 'order'> {
  const lines = output.split('\n');
  const at = lines.findIndex((l) => /^Received Access-\w+ Id/.test(l));
  if (at < 0) return { code: null, attributes: {}, order: [] };
  const code = /^Received (Access-\w+)/.exec(lines[at]!)![1]!;
  const attributes: Record<string, string> = {};
  const order: string[] = [];
  for (const line of lines.slice(at + 1)) {
    const m = /^\t([\w-]+) = (.*)$/.exec(line);
    if (!m) break;
    const value = m[2]!.replace(/^"(.*)"$/, '$1');
    attributes[m[1]!] = value;
    order.push(m[1]!);
  }
  return { code, attributes, order };
}

/** radclient's input line for a request; `password` undefined leaves User-Password out. */
export function request(fields: { user: string; password?: string; state?: string; messageAuthenticator?: boolean; extra?: string }): string {
  const parts = [`User-Name = "${fields.user}"`];
  if (fields.password !== undefined) parts.push(`User-Password = "${fields.password}"`);
  if (fields.state) parts.push(`State = ${fields.state}`);
  parts.push('NAS-Identifier = "test-nas"');
  if (fields.extra) parts.push(fields.extra);
  if (fields.messageAuthenticator !== false) parts.push('Message-Authenticator = 0x00');
  return parts.join(', ');
}

/** Prints a file's exchanges in one block (jest shows it under the file). */
export function printTranscripts(title: string): void {
  if (transcripts.length === 0) return;
  console.log(`${title}\n\n${transcripts.join('\n')}`);
  transcripts.length = 0;
}
