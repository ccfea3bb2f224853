/**
 * Private, real servers for the fault tests (test/faults/): a redis-server, a Sentinel group and a
 * PostgreSQL cluster that one test file starts on free ports in a temporary folder, stops, kills
 * and restarts at will, never touching the shared servers on 5432/6379 that other suites use.
 * Every process started here is ours (spawned, or pg_ctl's postmaster in our data folder) and is
 * stopped by `stop()`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './idp.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** True once something accepts TCP connections on 127.0.0.1:port. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
    s.setTimeout(1000, () => { s.destroy(); resolve(false); });
  });
}

async function until(probe: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await probe()) return;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A server process that ended before it answered: its port was most likely taken meanwhile. */
export class ExitedEarly extends Error {}

function redisCli(port: number, ...args: string[]): string {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', timeout: 10_000 });
  return (r.stdout ?? '').trim();
}

/** One redis-server process on a free port, no persistence. */
export class PrivateRedis {
  private proc: ChildProcess | null = null;
  private constructor(readonly port: number, private readonly dir: string, private readonly extra: string[], private readonly config: string[]) {}

  /** `config`: a config file read first (a Sentinel needs one it can rewrite). */
  static async start(opts: { port?: number; args?: string[]; config?: string } = {}): Promise<PrivateRedis> {
    // A free port can be taken by another process before redis-server binds it (CI runs suites in
    // parallel): the server then exits at once, and a port we chose ourselves is chosen again.
    for (let attempt = 1; ; attempt++) {
      const r = new PrivateRedis(opts.port ?? (await freePort()), mkdtempSync(path.join(os.tmpdir(), 'fault-redis-')), opts.args ?? [], opts.config ? [opts.config] : []);
      try {
        await r.up();
        return r;
      } catch (err) {
        if (!(err instanceof ExitedEarly) || opts.port !== undefined || attempt >= 3) throw err;
      }
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  /** Starts it again (on the same port) after stop() or kill(); its data is gone. */
  async up(): Promise<void> {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) return;
    this.proc = spawn('redis-server', [...this.config, '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, ...this.extra], { stdio: 'ignore' });
    const proc = this.proc;
    await until(() => {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new ExitedEarly(`redis-server on ${this.port} exited at start (${proc.exitCode ?? proc.signalCode}): the port was taken?`);
      return redisCli(this.port, 'ping') === 'PONG';
    }, 20_000, `redis-server on ${this.port}`);
  }

  /** Ends the process with SIGKILL (a crash) and waits until the port is closed. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGKILL');
    await exited;
    await until(async () => !(await listening(this.port)), 10_000, `port ${this.port} closed`);
  }

  /** `redis-cli` against this server. */
  cli(...args: string[]): string {
    return redisCli(this.port, ...args);
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A Sentinel group of our own: a master, a replica and three Sentinels watching `name`. */
export class PrivateSentinel {
  private constructor(
    readonly name: string,
    readonly master: PrivateRedis,
    readonly replica: PrivateRedis,
    readonly sentinels: PrivateRedis[],
  ) {}

  static async start(name = 'faults'): Promise<PrivateSentinel> {
    const master = await PrivateRedis.start();
    const replica = await PrivateRedis.start({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
    const sentinels: PrivateRedis[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const dir = mkdtempSync(path.join(os.tmpdir(), 'fault-sentinel-'));
      const conf = path.join(dir, 'sentinel.conf');
      writeFileSync(conf, [
        `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 3000`,
        `sentinel parallel-syncs ${name} 1`, '',
      ].join('\n'));
      // A sentinel is a redis-server with a config file it may rewrite: PrivateRedis with that file first.
      sentinels.push(await PrivateRedis.start({ port, config: conf, args: ['--sentinel'] }));
    }
    const group = new PrivateSentinel(name, master, replica, sentinels);
    await until(() => group.masterPort() === master.port && redisCli(replica.port, 'info', 'replication').includes('master_link_status:up'), 30_000, 'the Sentinel group to settle');
    return group;
  }

  get url(): string {
    return `redis-sentinel://${this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${this.name}`;
  }

  /** The master's port as the first Sentinel names it. */
  masterPort(): number | null {
    const out = this.sentinels[0]!.cli('sentinel', 'get-master-addr-by-name', this.name).split('\n');
    return out[1] ? Number(out[1]) : null;
  }

  async stop(): Promise<void> {
    for (const s of [...this.sentinels, this.replica, this.master]) await s.stop();
  }
}

const PG_BIN = '/usr/lib/postgresql/15/bin';

/** True when the PostgreSQL 15 server binaries are installed here. */
export const havePostgresBinaries = (): boolean => existsSync(path.join(PG_BIN, 'initdb')) && existsSync(path.join(PG_BIN, 'pg_ctl'));

/**
 * A PostgreSQL cluster of our own: initdb (trust auth) in a temporary folder, pg_ctl start on a
 * free port. As root it runs as the `postgres` user (the server refuses root).
 */
export class PrivatePostgres {
  private constructor(readonly port: number, private readonly dir: string) {}

  static async start(): Promise<PrivatePostgres> {
    if (!havePostgresBinaries()) throw new Error(`PostgreSQL binaries not found in ${PG_BIN}`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fault-pg-'));
    const pg = new PrivatePostgres(await freePort(), dir);
    if (process.getuid?.() === 0) {
      const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
      const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
      chownSync(dir, Number(id.stdout.trim()), Number(gid.stdout.trim()));
    }
    pg.run('initdb', ['-D', path.join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    await pg.up();
    return pg;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private run(bin: string, args: string[]): string {
    const cmd = path.join(PG_BIN, bin);
    const r = process.getuid?.() === 0
      ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8', timeout: 120_000 })
      : spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  async up(): Promise<void> {
    this.run('pg_ctl', ['-D', path.join(this.dir, 'data'), '-l', path.join(this.dir, 'log'), '-w', '-t', '60',
      '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`, 'start']);
    await until(() => listening(this.port), 30_000, `PostgreSQL on ${this.port}`);
  }

  /** Stops the server (fast: open connections are ended, as in a restart). */
  async down(): Promise<void> {
    this.run('pg_ctl', ['-D', path.join(this.dir, 'data'), '-m', 'fast', '-w', '-t', '60', 'stop']);
    await until(async () => !(await listening(this.port)), 30_000, `port ${this.port} closed`);
  }

  async stop(): Promise<void> {
    try { await this.down(); } catch { /* already stopped */ }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A free port whose cluster-bus port (port + 10000) is free too, both below Linux's ephemeral range
 * (32768 and up): there, a port no server listens on may still be the local end of one of the many
 * connections the other suites open, and redis-server could not bind it.
 */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 10_000 + Math.floor(Math.random() * 12_700);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if (!(await listening(port)) && !(await listening(port + 10_000))) { taken.add(port); return port; }
  }
  throw new Error('no free port pair for a cluster node');
}

/**
 * A Redis Cluster of our own: six `--cluster-enabled yes` nodes (three masters, one replica each)
 * with a short node timeout, so that a killed master is replaced in a few seconds.
 */
export class PrivateCluster {
  private constructor(readonly nodes: PrivateRedis[]) {}

  static async start(): Promise<PrivateCluster> {
    const taken = new Set<number>();
    const nodes: PrivateRedis[] = [];
    for (let i = 0; i < 6; i++) {
      for (let attempt = 1; ; attempt++) {
        const port = await freeClusterPort(taken);
        try {
          nodes.push(await PrivateRedis.start({
            port, args: ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '1000'],
          }));
          break;
        } catch (err) {
          // Taken by another process between the check and the bind: another pair of ports.
          if (!(err instanceof ExitedEarly) || attempt >= 3) throw err;
        }
      }
    }
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stderr}${create.stdout}`);
    const cluster = new PrivateCluster(nodes);
    await until(() => nodes.every((n) => n.cli('cluster', 'info').includes('cluster_state:ok')), 60_000, 'the cluster to form');
    return cluster;
  }

  get url(): string {
    return `redis-cluster://${this.nodes.slice(0, 3).map((n) => `127.0.0.1:${n.port}`).join(',')}`;
  }

  /** The node that is master of the slot `key` hashes to, as a live node sees it, or null while none is. */
  masterOf(key: string): PrivateRedis | null {
    const asker = this.nodes.find((n) => n.cli('ping') === 'PONG');
    if (!asker) return null;
    const slot = Number(asker.cli('cluster', 'keyslot', key));
    for (const line of asker.cli('cluster', 'nodes').split('\n')) {
      const f = line.split(' ');
      if (!f[2]?.includes('master') || f[2].includes('fail')) continue;
      const port = Number(/:(\d+)@/.exec(f[1] ?? '')?.[1]);
      const owns = f.slice(8).some((r) => {
        const [a, b] = r.split('-').map(Number);
        return a !== undefined && !Number.isNaN(a) && slot >= a && slot <= (b ?? a);
      });
      if (owns) return this.nodes.find((n) => n.port === port) ?? null;
    }
    return null;
  }

  async stop(): Promise<void> {
    for (const n of this.nodes) await n.stop();
  }
}
