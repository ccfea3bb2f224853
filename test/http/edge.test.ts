import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import { describe, expect, it } from '@jest/globals';
import Koa from 'koa';
import request from 'supertest';
import { DeviceError } from '../../src/devices/errors.js';
import { errorEdge, formatFor, jsonErrors, JSON_API_PREFIXES } from '../../src/http/edge.js';
import { AppError, HttpError } from '../../src/http/errors.js';
import { createViews } from '../../src/http/views.js';

/**
 * The one edge: every error becomes JSON `{ error, error_description }` for APIs and the error page
 * for browsers, with its status and stable code; a fault of ours is a 500 that shows nothing of itself.
 */
const views = createViews();
const SECRET_FAULT = 'connection to db-7.internal:5432 refused (password=hunter2)';

function logger() {
  const logged: object[] = [];
  return { logged, error: (obj: object) => { logged.push(obj); } };
}

/** An app with the edge at the top and a few routes that fail in the ways a request can. */
function appWith(edge: Koa.Middleware) {
  const app = new Koa();
  app.silent = true;
  app.use(edge);
  const router = new Router();
  router.get('/account/refused', () => { throw new HttpError(403, 'access_denied', 'This account cannot use this page.'); });
  router.get('/api/device/limited', () => { throw new DeviceError('rate_limited', 429, 'slow down', { 'Retry-After': '7' }); });
  router.get('/api/agent/fault', () => { throw new Error(SECRET_FAULT); });
  router.get('/agent2/fault', () => { throw new Error(SECRET_FAULT); });
  router.get('/page/fault', () => { throw new TypeError(SECRET_FAULT); });
  router.post('/api/agent/json', bodyParser({ enableTypes: ['json'] }), (ctx) => { ctx.body = { ok: true }; });
  router.get('/page/library-405', (ctx) => ctx.throw(405));
  app.use(router.routes());
  return app;
}

describe('the edge picks the format', () => {
  const app = appWith(errorEdge({ views }));

  it('a browser page gets the HTML error page with the status and the code', async () => {
    const res = await request(app.callback()).get('/account/refused').set('Accept', 'text/html');
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.text).toContain('This account cannot use this page.');
    expect(res.text).toContain('access_denied');
  });

  it('the same page to a client that does not ask for HTML is JSON', async () => {
    const res = await request(app.callback()).get('/account/refused').set('Accept', 'application/json');
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: 'access_denied', error_description: 'This account cannot use this page.' });
  });

  it('an API path is JSON even to a browser, with the error\'s own headers', async () => {
    const res = await request(app.callback()).get('/api/device/limited').set('Accept', 'text/html');
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.body).toEqual({ error: 'rate_limited', error_description: 'slow down' });
  });

  it('an unexpected fault on a page is the error page, 500, with nothing of the fault', async () => {
    const log = logger();
    const res = await request(appWith(errorEdge({ views, log })).callback()).get('/page/fault').set('Accept', 'text/html');
    expect(res.status).toBe(500);
    expect(res.text).toContain('server_error');
    expect(res.text).not.toContain('hunter2');
    expect(res.text).not.toContain('TypeError');
    expect(log.logged).toHaveLength(1);
  });

  it('a library\'s 405 keeps its status under a stable code; a bad JSON body is a 400, never a 500', async () => {
    const res405 = await request(app.callback()).get('/page/library-405').set('Accept', 'application/json');
    expect(res405.status).toBe(405);
    expect(res405.body.error).toBe('method_not_allowed');
    const bad = await request(app.callback()).post('/api/agent/json').set('Content-Type', 'application/json').send('{"a":');
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: 'invalid_request', error_description: 'the request body is not valid JSON' });
  });

  it('a request nothing answered is not_found in the caller\'s format', async () => {
    const json = await request(app.callback()).get('/api/nowhere');
    expect(json.status).toBe(404);
    expect(json.body.error).toBe('not_found');
    const page = await request(app.callback()).get('/nowhere').set('Accept', 'text/html');
    expect(page.status).toBe(404);
    expect(page.text).toContain('not_found');
  });
});

describe('a JSON API opting in', () => {
  it('by path prefix (/api/agent/ is under /api/): an unexpected fault is JSON 500 with no stack and no message', async () => {
    expect(JSON_API_PREFIXES).toContain('/api/');
    const log = logger();
    const res = await request(appWith(errorEdge({ views, log })).callback()).get('/api/agent/fault').set('Accept', 'text/html');
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ error: 'server_error', error_description: 'the server could not handle the request' });
    expect(res.text).not.toContain('hunter2');
    expect(res.text).not.toMatch(/at .*\.ts:\d+/);
    expect(log.logged).toHaveLength(1);
  });

  it('by a prefix of its own, in one line', async () => {
    const edge = errorEdge({ views, format: (ctx) => formatFor(ctx, [...JSON_API_PREFIXES, '/agent2/']) });
    const res = await request(appWith(edge).callback()).get('/agent2/fault').set('Accept', 'text/html');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'server_error', error_description: 'the server could not handle the request' });
  });

  it('by putting jsonErrors() first on its router, mounted in a bare app', async () => {
    const router = new Router();
    router.get('/x/fault', jsonErrors(), () => { throw new Error(SECRET_FAULT); });
    router.get('/x/refused', jsonErrors(), () => { throw new DeviceError('device_not_found', 404, 'no such device'); });
    const app = new Koa();
    app.silent = true;
    app.use(router.routes());
    const fault = await request(app.callback()).get('/x/fault').set('Accept', 'text/html');
    expect(fault.status).toBe(500);
    expect(fault.body).toEqual({ error: 'server_error', error_description: 'the server could not handle the request' });
    const refused = await request(app.callback()).get('/x/refused');
    expect(refused.status).toBe(404);
    expect(refused.body).toEqual({ error: 'device_not_found', error_description: 'no such device' });
  });
});

describe('one error family', () => {
  it('HttpError and DeviceError are AppErrors with code, status, expose and headers', () => {
    const page = new HttpError(400, 'invalid_request', 'Bad.', { 'X-A': '1' });
    const device = new DeviceError('challenge_expired', 410, 'the sign-in request has expired');
    for (const e of [page, device]) expect(e).toBeInstanceOf(AppError);
    expect([page.status, page.code, page.expose, page.headers]).toEqual([400, 'invalid_request', true, { 'X-A': '1' }]);
    expect([device.status, device.code, device.description, device.expose]).toEqual([410, 'challenge_expired', 'the sign-in request has expired', true]);
    expect(new DeviceError('server_error', 500, 'x').expose).toBe(false);
  });
});
