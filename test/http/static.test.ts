import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Koa from 'koa';
import request from 'supertest';
import { staticFiles } from '../../src/http/static.js';

/** /static (the pages' stylesheet and scripts): its types and cache policy, and nothing outside its folder. */
let root: string;
let app: Koa;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'static-'));
  mkdirSync(join(root, 'static'));
  writeFileSync(join(root, 'static', 'idp.css'), 'body{}');
  writeFileSync(join(root, 'static', 'page.js'), 'console.log(1)');
  writeFileSync(join(root, 'static', 'notes.txt'), 'not served');
  writeFileSync(join(root, 'static', '.hidden.js'), 'hidden');
  writeFileSync(join(root, 'outside.js'), 'secret-outside');
  app = new Koa();
  app.use(staticFiles('/static', join(root, 'static')));
  app.use((ctx) => { ctx.body = 'next'; });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('staticFiles', () => {
  it('serves its files with their type, an hour of cache and nosniff', async () => {
    const css = await request(app.callback()).get('/static/idp.css');
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['cache-control']).toBe('public, max-age=3600');
    expect(css.headers['x-content-type-options']).toBe('nosniff');
    const js = await request(app.callback()).get('/static/page.js');
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.text).toBe('console.log(1)');
  });

  it('refuses traversal and odd paths, and never reads outside its folder', async () => {
    for (const path of ['/static/../outside.js', '/static/%2e%2e/outside.js', '/static/..%2Foutside.js', '/static/..%5Coutside.js',
      '/static//etc/passwd', '/static/%00.js', '/static/%E0%A4%A.js', '/static/.hidden.js', '/static/./idp.css']) {
      const res = await request(app.callback()).get(path);
      expect([400, 403, 404]).toContain(res.status);
      expect(res.text).not.toContain('secret-outside');
      expect(res.text).not.toContain('hidden');
    }
  });

  it('does not serve unknown types or missing files; answers a revalidation with 304', async () => {
    expect((await request(app.callback()).get('/static/notes.txt')).status).toBe(404);
    expect((await request(app.callback()).get('/static/missing.css')).status).toBe(404);
    const first = await request(app.callback()).get('/static/idp.css');
    const again = await request(app.callback()).get('/static/idp.css').set('If-None-Match', first.headers.etag!);
    expect(again.status).toBe(304);
  });

  it('answers only GET and HEAD, and leaves other paths alone', async () => {
    const post = await request(app.callback()).post('/static/idp.css');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect((await request(app.callback()).get('/staticx')).text).toBe('next');
  });
});
