import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Server } from 'node:http';
import { createMetrics } from '../../src/observability/metrics.js';
import { instrumentDb } from '../../src/observability/instrument.js';
import { startMetricsServer } from '../../src/observability/metrics-route.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { freePort, freshSchemaUrl, startTestIdp } from '../support/idp.js';
import { matchNumberOf, PushWorld } from '../support/push-world.js';

const METRICS_TOKEN = 'metrics-token-for-tests-0123456789abcdef';

/** Pure: one sample's value from the Prometheus text format, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/**
 * Prometheus /metrics as an operator scrapes it: protected by a bearer token (or not served at
 * all), and counting what a sign-in did: its result and factor, the push service's answer and
 * latency, the approval latency, the pending challenges, plus the process metrics.
 */
describe('Prometheus metrics', () => {
  let w: PushWorld;
  const scrape = async () => {
    const res = await fetch(`${w.t.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text();
  };

  beforeAll(async () => { w = await PushWorld.start({ idp: { env: { METRICS_TOKEN } } }); });
  afterAll(() => w?.close());

  it('refuses a scrape without the token, or with a wrong one', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token', `Basic ${Buffer.from(`prometheus:${METRICS_TOKEN}`).toString('base64')}`, `Bearer ${METRICS_TOKEN}x`]) {
      const res = await fetch(`${w.t.url}/metrics`, authorization ? { headers: { authorization } } : {});
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await res.text()).not.toMatch(/idp_/);
    }
  });

  it('counts a push sign-in, a wrong password and a wrong passcode', async () => {
    const { phone, subscription } = await w.enrollPhone();
    const bad = await w.startSignIn({ password: 'not the password 1' });
    expect(bad.next.res.status).toBe(401);

    const push = await w.startSignIn();
    const wait = await push.browser.submit(push.next.body, /\/push$/, {});
    const pending = await scrape();
    expect(sample(pending, 'idp_pending_challenges')).toBe(1);
    const msg = await w.pushService.waitForMessage(subscription!.id);
    // The push service's answer is counted when it reaches the IdP, just after the message arrived.
    let sent = await scrape();
    for (let i = 0; i < 50 && sample(sent, 'idp_push_sends_total', { answer: '2xx' }) === undefined; i++) {
      await new Promise((r) => setTimeout(r, 100));
      sent = await scrape();
    }
    expect(sample(sent, 'idp_push_sends_total', { answer: '2xx' })).toBe(1);
    expect(sample(sent, 'idp_push_service_duration_seconds_count', { answer: '2xx' })).toBe(1);

    const cid = (msg.payload as { cid: string }).cid;
    await phone.challenge(cid);
    expect((await phone.respond(cid, 'approve', { number: matchNumberOf(wait.body)! })).status).toBe(200);
    const done = await push.browser.go(`/interaction/${push.uid}/wait`);
    expect(done.url).toMatch(/\/cb\?code=/);

    const typed = await w.startSignIn();
    const page = await typed.browser.go(`/interaction/${typed.uid}/passcode`);
    await typed.browser.submit(page.body, /\/passcode$/, { passcode: phone.currentTotp() === '000000' ? '111111' : '000000' });

    const text = await scrape();
    expect(sample(text, 'idp_signins_total', { result: 'failure', factor: 'password' })).toBe(1);
    expect(sample(text, 'idp_signins_total', { result: 'approved', factor: 'push' })).toBe(1);
    expect(sample(text, 'idp_signins_total', { result: 'success', factor: 'push' })).toBe(1);
    expect(sample(text, 'idp_signins_total', { result: 'failure', factor: 'passcode' })).toBe(1);
    expect(sample(text, 'idp_approval_duration_seconds_count', { status: 'approved' })).toBe(1);
    expect(sample(text, 'idp_approval_duration_seconds_bucket', { status: 'approved', le: '+Inf' })).toBe(1);
    expect(sample(text, 'idp_pending_challenges')).toBe(0);
    expect(sample(text, 'idp_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sample(text, 'idp_nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  });

  it('is not served on the main port without METRICS_TOKEN; METRICS_PORT serves it on its own listener', async () => {
    const t = await startTestIdp({ storage: 'postgres' });
    let server: Server | null = null;
    try {
      const res = await fetch(`${t.url}/metrics`);
      expect(res.status).toBe(404);
      expect(await res.text()).not.toMatch(/idp_/);
      const port = await freePort();
      server = await startMetricsServer(t.idp.metrics, '127.0.0.1', port);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(sample(text, 'idp_process_resident_memory_bytes')).toBeGreaterThan(0);
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status).toBe(404);
    } finally {
      server?.close();
      await t.close();
    }
  });

  it('counts failed database statements and passes the error on unchanged', async () => {
    const schema = await freshSchemaUrl();
    const metrics = createMetrics({ defaultMetrics: false });
    const db = instrumentDb(openPostgres(schema.url), metrics);
    try {
      await expect(db.query('SELECT * FROM no_such_table')).rejects.toMatchObject({ code: '42P01' });
      await expect(db.transaction((tx) => tx.query('SELECT 1/0'))).rejects.toMatchObject({ code: '22012' });
      expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
      const text = await metrics.registry.metrics();
      expect(sample(text, 'idp_db_errors_total', { kind: 'sqlstate_42' })).toBe(1);
      expect(sample(text, 'idp_db_errors_total', { kind: 'sqlstate_22' })).toBe(1);
    } finally {
      await db.close();
      await schema.drop();
    }
  });
});
