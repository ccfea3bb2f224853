import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server, type Socket } from 'node:net';
import Koa from 'koa';
import request from 'supertest';
import { healthRoutes, type ReadinessCheck } from '../../src/observability/health.js';
import { freePort, startTestIdp, type TestIdp } from '../support/idp.js';

const METRICS_TOKEN = 'metrics-token-for-tests-0123456789abcdef';

function app(checks: ReadinessCheck[], draining = () => false) {
  const a = new Koa();
  a.use(healthRoutes({ checks, timeoutMs: 300, draining }));
  a.use((ctx) => { ctx.status = 404; });
  return a.callback();
}

describe('/healthz and /readyz (module)', () => {
  const ok = (name: string): ReadinessCheck => ({ name, check: async () => 'PONG' });

  it('/healthz answers without touching any dependency', async () => {
    let calls = 0;
    const res = await request(app([{ name: 'database', check: async () => { calls++; throw new Error('down'); } }])).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(calls).toBe(0);
  });

  it('/readyz names the dependency that failed, and a hung one counts as failed', async () => {
    const res = await request(app([
      { name: 'database', check: async () => { throw new Error('connection refused'); } },
      { name: 'redis', check: () => new Promise(() => {}) },
    ])).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body.failed).toEqual(['database', 'redis']);
    expect(res.body.checks).toEqual([
      { name: 'database', ok: false, error: 'connection refused' },
      { name: 'redis', ok: false, error: 'no answer within 300 ms' },
    ]);
    const fine = await request(app([ok('database'), ok('redis')])).get('/readyz');
    expect(fine.status).toBe(200);
    expect(fine.body).toEqual({ status: 'ready', checks: [{ name: 'database', ok: true }, { name: 'redis', ok: true }] });
  });

  it('/readyz fails while draining (shutdown), and other methods are refused', async () => {
    const res = await request(app([ok('database')], () => true)).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body.status).toBe('shutting_down');
    const post = await request(app([ok('database')])).post('/readyz');
    expect(post.status).toBe(405);
  });
});

describe('/readyz and Redis error metrics on a real IdP whose Redis is unreachable', () => {
  let blackHole: Server;
  const sockets = new Set<Socket>();
  let hung: TestIdp;
  let refused: TestIdp;

  beforeAll(async () => {
    // Accepts connections and never answers: a hung Redis.
    blackHole = createServer((s) => { sockets.add(s); s.on('error', () => {}); });
    await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
    const hungPort = (blackHole.address() as { port: number }).port;
    hung = await startTestIdp({ storage: 'postgres', env: { REDIS_URL: `redis://127.0.0.1:${hungPort}/0` } });
    // Nothing listens there: connections are refused.
    refused = await startTestIdp({ storage: 'postgres', env: { REDIS_URL: `redis://127.0.0.1:${await freePort()}/0`, METRICS_TOKEN } });
  });
  afterAll(async () => {
    // The hung Redis goes away first, so the IdP's pending commands fail instead of waiting on it.
    blackHole?.close();
    for (const s of sockets) s.destroy();
    await hung?.close();
    await refused?.close();
  });

  it('a hung Redis: /readyz answers 503 naming redis (bounded), /healthz still 200', async () => {
    const res = await fetch(`${hung.url}/readyz`);
    expect(res.status).toBe(503);
    const body = await res.json() as { failed: string[]; checks: { name: string; ok: boolean }[] };
    expect(body.failed).toEqual(['redis']);
    expect(body.checks.find((c) => c.name === 'database')!.ok).toBe(true);
    expect((await fetch(`${hung.url}/healthz`)).status).toBe(200);
  });

  it('a refused Redis: /readyz 503 naming redis, and idp_redis_errors_total counts the errors', async () => {
    const res = await fetch(`${refused.url}/readyz`);
    expect(res.status).toBe(503);
    expect((await res.json() as { failed: string[] }).failed).toEqual(['redis']);
    const metrics = await (await fetch(`${refused.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    const errors = Number(/^idp_redis_errors_total (\d+)/m.exec(metrics)?.[1]);
    expect(errors).toBeGreaterThan(0);
  });
});
