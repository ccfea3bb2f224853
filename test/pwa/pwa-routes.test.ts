import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Koa from 'koa';
import request from 'supertest';
import { pwaRoutes } from '../../src/pwa/routes.js';

/**
 * How /pwa/ is served: the worker and the shell are revalidated (an update must reach phones),
 * hashed bundles are immutable, and nothing outside the build can be read through the path.
 */

let dist: string;
let app: Koa;

beforeAll(() => {
  dist = mkdtempSync(join(tmpdir(), 'pwa-dist-'));
  mkdirSync(join(dist, 'icons'));
  mkdirSync(join(dist, 'chunks'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(dist, 'sw.js'), 'self.addEventListener("push", () => {});');
  writeFileSync(join(dist, 'app-ABCD2345.js'), 'console.log(1)');
  writeFileSync(join(dist, 'chunks', 'jsQR-QWERTY23.js'), 'export {}');
  writeFileSync(join(dist, 'style-ZXCV7654.css'), 'body{}');
  writeFileSync(join(dist, 'manifest.webmanifest'), '{"name":"x"}');
  writeFileSync(join(dist, 'icons', 'icon-192.png'), Buffer.from([137, 80, 78, 71]));
  writeFileSync(join(dist, 'notes.txt'), 'not a served type');
  writeFileSync(join(tmpdir(), 'outside-the-build.js'), 'secret');
  app = new Koa();
  app.use(pwaRoutes({ distDir: dist }));
  app.use((ctx) => {
    ctx.body = 'next';
  });
});

afterAll(() => rmSync(dist, { recursive: true, force: true }));

describe('pwaRoutes', () => {
  it('redirects /pwa to /pwa/ and keeps the enrollment query', async () => {
    const res = await request(app.callback()).get('/pwa?enroll=ABCD-EFGH&issuer=https%3A%2F%2Fidp.example');
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/pwa/?enroll=ABCD-EFGH&issuer=https%3A%2F%2Fidp.example');
  });

  it('serves the shell at /pwa/ as HTML, revalidated, with a CSP that allows no inline script', async () => {
    const res = await request(app.callback()).get('/pwa/?request=abc');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('serves the worker with Service-Worker-Allowed: /pwa/ and no-cache', async () => {
    const res = await request(app.callback()).get('/pwa/sw.js');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(res.headers['service-worker-allowed']).toBe('/pwa/');
    expect(res.headers['cache-control']).toBe('no-cache');
  });

  it('caches content-hashed bundles for a year', async () => {
    for (const path of ['/pwa/app-ABCD2345.js', '/pwa/chunks/jsQR-QWERTY23.js', '/pwa/style-ZXCV7654.css']) {
      const res = await request(app.callback()).get(path);
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    }
    const css = await request(app.callback()).get('/pwa/style-ZXCV7654.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('gives the manifest and icons their types', async () => {
    const manifest = await request(app.callback()).get('/pwa/manifest.webmanifest');
    expect(manifest.headers['content-type']).toBe('application/manifest+json; charset=utf-8');
    expect(manifest.headers['cache-control']).toBe('no-cache');
    const icon = await request(app.callback()).get('/pwa/icons/icon-192.png');
    expect(icon.headers['content-type']).toBe('image/png');
    expect(icon.headers['cache-control']).toBe('public, max-age=86400');
  });

  it('answers 304 to a revalidation with the same ETag', async () => {
    const first = await request(app.callback()).get('/pwa/sw.js');
    const again = await request(app.callback()).get('/pwa/sw.js').set('If-None-Match', first.headers.etag!);
    expect(again.status).toBe(304);
  });

  it('answers HEAD without a body', async () => {
    const res = await request(app.callback()).head('/pwa/sw.js');
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String('self.addEventListener("push", () => {});'.length));
  });

  it('never reads outside the build (dot segments, encoded slashes, backslashes)', async () => {
    for (const path of ['/pwa/../outside-the-build.js', '/pwa/%2e%2e/outside-the-build.js', '/pwa/..%2Foutside-the-build.js', '/pwa/icons/..%5C..%5Coutside-the-build.js', '/pwa//etc/passwd', '/pwa/%00.js']) {
      const res = await request(app.callback()).get(path);
      expect([400, 404]).toContain(res.status);
      expect(res.text).not.toContain('secret');
    }
  });

  it('does not serve files of unknown types or missing files', async () => {
    expect((await request(app.callback()).get('/pwa/notes.txt')).status).toBe(404);
    expect((await request(app.callback()).get('/pwa/missing.js')).status).toBe(404);
  });

  it('refuses other methods under /pwa/ and leaves other paths to the next middleware', async () => {
    const post = await request(app.callback()).post('/pwa/sw.js');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const other = await request(app.callback()).get('/pwanot');
    expect(other.text).toBe('next');
  });

  it('says how to build when the build is missing', async () => {
    const bare = new Koa();
    bare.use(pwaRoutes({ distDir: join(dist, 'nothing-here') }));
    const res = await request(bare.callback()).get('/pwa/');
    expect(res.status).toBe(404);
    expect(res.text).toContain('build-pwa');
  });
});
