import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { unsafeConfiguration } from '../../src/config/production.js';
import { loadSettings } from '../../src/config/settings.js';

/**
 * The deployment files as an operator uses them. docker-compose.yml is checked by Compose itself
 * (`docker-compose config -q`, Debian's docker-compose package, installed by .ci/run) against the
 * committed env examples; the examples hold no secret and, once filled in, pass the IdP's
 * production checks; the Dockerfile builds in stages and runs as a non-root user.
 */
const examples = { IDP_ENV_FILE: 'deploy/idp.env.example', POSTGRES_ENV_FILE: 'deploy/postgres.env.example' };
const compose = (args: string[], env: Record<string, string> = examples) =>
  spawnSync('docker-compose', ['-f', 'docker-compose.yml', ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 60_000 });

/** Pure: KEY=value lines of an env file (comments and blank lines skipped). */
const dotenv = (file: string): Record<string, string> => Object.fromEntries(readFileSync(file, 'utf8').split('\n')
  .filter((l) => /^[A-Z_][A-Z0-9_]*=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

describe('deployment files', () => {
  it('docker-compose.yml is valid Compose, with two IdPs behind a proxy on PostgreSQL and persistent Redis', () => {
    const check = compose(['config', '-q']);
    expect({ status: check.status, stderr: check.stderr }).toEqual({ status: 0, stderr: '' });
    expect(compose(['config', '--services']).stdout.split('\n').filter(Boolean).sort()).toEqual(['idp1', 'idp2', 'postgres', 'proxy', 'redis']);
    expect(compose(['config', '--volumes']).stdout.split('\n').filter(Boolean).sort()).toEqual(['idp1-data', 'idp2-data', 'pg-data', 'redis-data']);
    const resolved = compose(['config']).stdout;
    expect(resolved).toMatch(/--appendonly/);
    expect(resolved).toMatch(/INSTANCES: '2'/);
  });

  it('needs the secrets file, which is not in the repository', () => {
    const missing = compose(['config', '-q'], { POSTGRES_ENV_FILE: examples.POSTGRES_ENV_FILE });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/deploy\/idp\.env/);
    expect(readFileSync('.gitignore', 'utf8')).toMatch(/^deploy\/\*\.env$/m);
  });

  it('the env example holds no secret, and is refused until they are filled in, then passes', () => {
    const example = dotenv('deploy/idp.env.example');
    expect(example.COOKIE_KEYS).toBe('');
    expect(example.KEK).toBe('');
    const fromCompose = { NODE_ENV: 'production', INSTANCES: '2', REDIS_URL: 'redis://redis:6379/0', TRUST_PROXY: '1', METRICS_PORT: '9100', METRICS_HOST: '0.0.0.0' };
    const settings = (extra: Record<string, string>) => loadSettings({ ...example, ...fromCompose, ...extra }, '/app');
    expect(unsafeConfiguration(settings({}))?.message).toMatch(/COOKIE_KEYS: required when INSTANCES is 2/);
    const filled = settings({ COOKIE_KEYS: 'x'.repeat(43), KEK: `k1:${Buffer.alloc(32, 1).toString('base64')}` });
    expect(unsafeConfiguration(filled)).toBeNull();
  });

  // Red-team (secrets in operations round): nginx's default log format wrote each request line with
  // its query, so the PWA's enrollment link (`/pwa/?enroll=<code>`) put a code that enrolls a phone in
  // `docker compose logs`; and /readyz, whose 503 names the database's address, was published.
  it('the proxy logs no query string nor Referer, and publishes neither health nor metrics', () => {
    const nginx = readFileSync('deploy/nginx.conf', 'utf8').replace(/#.*$/gm, '');
    const accessLogs = [...nginx.matchAll(/^\s*access_log\s+([^;]+);/gm)].map((m) => m[1]!.trim().split(/\s+/));
    expect(accessLogs.length).toBeGreaterThan(0);
    for (const [target, format] of accessLogs) {
      if (target === 'off') continue;
      expect(format).toBeDefined(); // nginx's default ("combined") logs $request and $http_referer
      const definition = new RegExp(`log_format\\s+${format}\\s+((?:'[^']*'\\s*)+);`).exec(nginx);
      expect(definition).not.toBeNull();
      const fields = definition![1]!;
      expect(fields).toMatch(/\$uri\b/);
      expect(fields).not.toMatch(/\$(request|request_uri|args|query_string|is_args|http_referer|arg_\w+)\b/);
    }
    // Its error log quotes the whole request line and the Referer on an upstream error or a limit_req refusal.
    const errorLogs = [...nginx.matchAll(/^\s*error_log\s+([^;]+);/gm)].map((m) => m[1]!.trim().split(/\s+/));
    expect(errorLogs.length).toBeGreaterThan(0);
    for (const [, level] of errorLogs) expect(['crit', 'alert', 'emerg']).toContain(level);
    for (const internal of ['/metrics', '/readyz', '/healthz']) {
      expect(nginx).toMatch(new RegExp(`location\\s*=\\s*${internal}\\s*\\{\\s*return 404;\\s*\\}`));
    }
  });

  it('the Dockerfile builds in stages, installs production dependencies only, runs as node, with a health check', () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    expect(dockerfile.match(/^FROM /gm)!.length).toBeGreaterThanOrEqual(3);
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/healthz/m);
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).not.toMatch(/npm ci(?! --omit=dev)/);
    expect(runtime).toMatch(/COPY --from=runtime-deps \/app\/node_modules/);
  });
});
