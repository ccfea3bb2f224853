import { createServer, type Server } from 'node:http';
import { listenOrRefuse } from '../net/listen.js';
import type { Middleware } from 'koa';
import { methodNotAllowed } from '../http/errors.js';
import { safeEqualStrings } from '../http/safe-equal.js';
import type { Metrics } from './metrics.js';

/**
 * `GET /metrics` on the main port, for Prometheus: served only when METRICS_TOKEN is set, and only
 * to `Authorization: Bearer <METRICS_TOKEN>` (compared in constant time). Without a token the path
 * is not ours (404, as any unknown path): metrics tell an outsider how busy and how healthy the
 * IdP is, so they are never public by default (docs/production.md, Metrics).
 */
export function metricsRoute(metrics: Metrics, token: string | null): Middleware {
  return async (ctx, next) => {
    if (ctx.path !== '/metrics' || !token) return next();
    ctx.set('Cache-Control', 'no-store');
    const given = /^Bearer ([\x21-\x7e]+)$/.exec(ctx.get('authorization'))?.[1];
    if (!given || !safeEqualStrings(given, token)) {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', 'Bearer realm="metrics"');
      ctx.body = { error: 'unauthorized' };
      return;
    }
    // JSON like every other refusal (hostile-input red-team: a bare text/plain 405).
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      throw methodNotAllowed(ctx.method, 'GET, HEAD');
    }
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  };
}

/** METRICS_PORT: a listener that serves only `/metrics`, without a token, on a private address. */
export async function startMetricsServer(metrics: Metrics, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' }).end(req.method === 'HEAD' ? undefined : text),
      () => res.writeHead(500).end(),
    );
  });
  await listenOrRefuse(server, { host, port, hostSetting: 'METRICS_HOST', portSetting: 'METRICS_PORT' });
  return server;
}
