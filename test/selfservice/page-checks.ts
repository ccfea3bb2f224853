import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { screenshot } from '../support/browser.js';

/**
 * What every page of the account's journey is checked for in Chromium: axe-core's WCAG 2.x A/AA
 * rules (0 violations), and screenshots in light, dark and at 200% text size, kept under
 * test-artifacts/screenshots/ for a person to look at.
 */
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation { id: string; impact: string | null; help: string; targets: string[] }

/** Runs axe in the page (by DevTools evaluation: the pages' CSP allows no injected script tag). */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, opts: object): Promise<{ passes: unknown[]; violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    // A run that checked nothing would pass anything.
    if (result.passes.length === 0) throw new Error('axe checked nothing');
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
  });
}

/** The page as it is, then dark, then at 200% text size (light): three screenshots, axe on each. */
export async function checkPage(page: Page, name: string): Promise<{ violations: AxeViolation[]; files: string[] }> {
  const files: string[] = [];
  const violations: AxeViolation[] = [];
  await page.emulateMedia({ colorScheme: 'light' });
  violations.push(...await axeViolations(page));
  files.push(await screenshot(page, `${name}-light`));
  await page.emulateMedia({ colorScheme: 'dark' });
  violations.push(...await axeViolations(page));
  files.push(await screenshot(page, `${name}-dark`));
  await page.emulateMedia({ colorScheme: 'light' });
  // The user's "text size 200%": the root font size doubles (CSSOM, which the CSP allows).
  await page.evaluate(() => { document.documentElement.style.fontSize = '200%'; });
  violations.push(...await axeViolations(page));
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  if (overflow > 0) violations.push({ id: 'horizontal-scroll-at-200%', impact: 'serious', help: `${overflow}px sideways scrolling`, targets: [] });
  files.push(await screenshot(page, `${name}-200`));
  await page.evaluate(() => { document.documentElement.style.fontSize = ''; });
  return { violations, files };
}
