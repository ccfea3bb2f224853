/**
 * What every page of the account's journey is checked for in Chromium: axe-core's WCAG 2.x A/AA
 * rules (0 violations), and screenshots in light, dark and at 200% text size, kept under
 * test-artifacts/screenshots/ for a person to look at.
 */
import type { Page } from 'playwright-core';
import { axeViolations, type AxeViolation } from '../support/axe.js';
import { screenshot } from '../support/browser.js';

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
