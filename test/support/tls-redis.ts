import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { endAll } from './entry.js';
import { freePort } from './idp.js';

const run = promisify(execFile);

/**
 * Real Redis servers that speak TLS only, on 127.0.0.1, for the `rediss-cluster://` and
 * `rediss-sentinel://` tests: a CA and a server certificate made here with openssl (IP
 * 127.0.0.1 and `localhost` in it), a Cluster of three masters (`tls-cluster yes`), a master with
 * one Sentinel (`tls-replication yes`, so the Sentinel too talks TLS to it), where clients need not
 * present certificates (`tls-auth-clients no`, as on managed services), and one server that asks for
 * a client certificate (Redis's default), with one made for the IdP. Nothing here is daemonized:
 * `stop` ends every server and removes the folder.
 */
export interface TlsRedis {
  /** The CA's certificate (PEM file): what NODE_EXTRA_CA_CERTS must name for a client to trust the servers. */
  caFile: string;
  clusterUrl: string;
  sentinelUrl: string;
  /** The master's own address, for a `rediss://` URL. */
  masterPort: number;
  /** A single server that asks every client for a certificate the CA signed (Redis's default, `tls-auth-clients yes`). */
  mutualPort: number;
  /** Such a client certificate and its key (PEM files), and a key that is not its. */
  clientCert: string;
  clientKey: string;
  otherKey: string;
  stop(): Promise<void>;
}

async function certificates(dir: string) {
  const f = (name: string) => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=Test Redis CA']);
  await run('openssl', ['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await run('openssl', ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-out', f('server.pem'), '-days', '2', '-extfile', f('ext.cnf')]);
  await run('openssl', ['req', ...ec, '-keyout', f('client.key'), '-out', f('client.csr'), '-subj', '/CN=pushotp-idp']);
  await run('openssl', ['x509', '-req', '-in', f('client.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-out', f('client.pem'), '-days', '2']);
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key'), otherKey: f('server.key') };
}

/** A port whose cluster bus port (+10000) is free too. */
async function clusterPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10_000 <= 65_535) return port;
  }
}

export async function startTlsRedis(): Promise<TlsRedis> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tls-redis-'));
  const { ca, cert, key, clientCert, clientKey, otherKey } = await certificates(dir);
  const serverArgs = (clientCertificates: 'yes' | 'no') => ['--port', '0', '--bind', '127.0.0.1', '--tls-cert-file', cert, '--tls-key-file', key,
    '--tls-ca-cert-file', ca, '--tls-auth-clients', clientCertificates, '--save', '', '--appendonly', 'no'];
  const tlsArgs = serverArgs('no');
  const cli = (port: number, ...args: string[]) => run('redis-cli', ['--tls', '--cacert', ca, '-h', '127.0.0.1', '-p', String(port), ...args]);
  const servers: ChildProcess[] = [];
  const start = (args: string[], cwd: string) => {
    mkdirSync(cwd, { recursive: true });
    const child = spawn('redis-server', args, { cwd, stdio: 'ignore' });
    servers.push(child);
  };
  const until = async (probe: () => Promise<boolean>, what: string) => {
    for (let i = 0; i < 100; i++) {
      if (await probe().catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`TLS Redis: ${what} not ready`);
  };
  const stop = async () => {
    await endAll(servers);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const nodes = [await clusterPort(), await clusterPort(), await clusterPort()];
    for (const port of nodes) {
      start([...tlsArgs, '--tls-port', String(port), '--tls-cluster', 'yes', '--cluster-enabled', 'yes',
        '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'], path.join(dir, `node-${port}`));
    }
    for (const port of nodes) await until(async () => (await cli(port, 'ping')).stdout.includes('PONG'), `node ${port}`);
    await cli(nodes[0]!, '--cluster', 'create', ...nodes.map((p) => `127.0.0.1:${p}`), '--cluster-yes');
    await until(async () => (await cli(nodes[0]!, 'cluster', 'info')).stdout.includes('cluster_state:ok'), 'the cluster');

    const masterPort = await freePort();
    start([...tlsArgs, '--tls-port', String(masterPort), '--tls-replication', 'yes'], path.join(dir, 'master'));
    await until(async () => (await cli(masterPort, 'ping')).stdout.includes('PONG'), 'the master');
    const sentinelPort = await freePort();
    const conf = path.join(dir, 'sentinel.conf');
    writeFileSync(conf, [
      'port 0', `tls-port ${sentinelPort}`, 'bind 127.0.0.1', `dir ${dir}`,
      `tls-cert-file ${cert}`, `tls-key-file ${key}`, `tls-ca-cert-file ${ca}`, 'tls-auth-clients no', 'tls-replication yes',
      `sentinel monitor tlsmain 127.0.0.1 ${masterPort} 1`, 'sentinel down-after-milliseconds tlsmain 1000', '',
    ].join('\n'));
    start([conf, '--sentinel'], dir);
    await until(async () => (await cli(sentinelPort, 'sentinel', 'get-master-addr-by-name', 'tlsmain')).stdout.includes(String(masterPort)), 'the Sentinel');

    const mutualPort = await freePort();
    start([...serverArgs('yes'), '--tls-port', String(mutualPort)], path.join(dir, 'mutual'));
    await until(async () => (await run('redis-cli', ['--tls', '--cacert', ca, '--cert', clientCert, '--key', clientKey, '-h', '127.0.0.1', '-p', String(mutualPort), 'ping'])).stdout.includes('PONG'), 'the mutual-TLS server');

    return {
      caFile: ca, mutualPort, clientCert, clientKey, otherKey,
      clusterUrl: `rediss-cluster://${nodes.map((p) => `127.0.0.1:${p}`).join(',')}`,
      sentinelUrl: `rediss-sentinel://127.0.0.1:${sentinelPort}/tlsmain`,
      masterPort,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
