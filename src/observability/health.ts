import type { Middleware } from 'koa';
import { methodNotAllowed } from '../http/errors.js';

/** A dependency that /readyz checks: it resolves when reachable, rejects (or hangs) when not. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<unknown>;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  error?: string;
}

/** Runs one check with a deadline: a hung connection counts as down instead of hanging the probe. */
async function within(check: ReadinessCheck, timeoutMs: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([check.check(), deadline]);
    return { name: check.name, ok: true };
  } catch (err) {
    return { name: check.name, ok: false, error: (err as Error).message || 'unreachable' };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every check at once, each bounded by `timeoutMs`. */
export async function readiness(checks: readonly ReadinessCheck[], timeoutMs: number): Promise<{ ready: boolean; checks: CheckResult[] }> {
  const results = await Promise.all(checks.map((c) => within(c, timeoutMs)));
  return { ready: results.every((r) => r.ok), checks: results };
}

export interface HealthOptions {
  checks: readonly ReadinessCheck[];
  /** Per check. Default 2 s: well under a load balancer's usual probe timeout. */
  timeoutMs?: number;
  /** True once shutdown has begun: /readyz then answers 503 so the balancer stops sending traffic. */
  draining?: () => boolean;
}

/**
 * `GET /healthz`: the process is alive (no I/O: a slow database must not get a live process killed).
 * `GET /readyz`: the database and Redis answer; 503 naming the one that failed when not, or while
 * shutting down. Neither is cached, neither shows more than the dependency's name and error.
 */
export function healthRoutes(opts: HealthOptions): Middleware {
  const timeoutMs = opts.timeoutMs ?? 2000;
  return async (ctx, next) => {
    if (ctx.path !== '/healthz' && ctx.path !== '/readyz') return next();
    // JSON like every other refusal (hostile-input red-team: a bare text/plain 405).
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      throw methodNotAllowed(ctx.method, 'GET, HEAD');
    }
    ctx.set('Cache-Control', 'no-store');
    if (ctx.path === '/healthz') {
      ctx.body = { status: 'ok' };
      return;
    }
    if (opts.draining?.()) {
      ctx.status = 503;
      ctx.body = { status: 'shutting_down', checks: [] };
      return;
    }
    const result = await readiness(opts.checks, timeoutMs);
    ctx.status = result.ready ? 200 : 503;
    ctx.body = {
      status: result.ready ? 'ready' : 'unavailable',
      checks: result.checks,
      ...(result.ready ? {} : { failed: result.checks.filter((c) => !c.ok).map((c) => c.name) }),
    };
  };
}
