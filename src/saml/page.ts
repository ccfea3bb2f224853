import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import { esc } from './xml.js';

const SUBMIT = 'document.forms[0].submit();';
const SUBMIT_HASH = `'sha256-${createHash('sha256').update(SUBMIT).digest('base64')}'`;

/**
 * The HTTP-POST binding: a page whose form carries the message to the SP and submits itself
 * (a button for a browser without scripts). Its CSP allows that one script by hash.
 */
export function postForm(ctx: Context, action: string, fields: Record<string, string | null>): void {
  const inputs = Object.entries(fields).filter((e): e is [string, string] => e[1] !== null)
    .map(([n, v]) => `<input type="hidden" name="${esc(n)}" value="${esc(v)}">`).join('');
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Content-Security-Policy', `default-src 'none'; script-src ${SUBMIT_HASH}; style-src 'self'; base-uri 'none'; frame-ancestors 'none'`);
  ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signing in</title></head><body>`
    + `<form method="post" action="${esc(action)}">${inputs}<noscript><p>Your browser does not run scripts: press Continue.</p></noscript><button type="submit">Continue</button></form>`
    + `<script>${SUBMIT}</script></body></html>`;
}
