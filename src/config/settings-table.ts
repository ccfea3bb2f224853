import { SETTINGS, type SettingSpec } from './settings.js';

/** README.md's Configuration table sits between these lines; `npm run config-table` rewrites it. */
export const TABLE_START = '<!-- config-table:start (generated from src/config/settings.ts by `npm run config-table`; do not edit) -->';
export const TABLE_END = '<!-- config-table:end -->';

/** A pipe would end a Markdown table cell. */
const cell = (s: string) => s.replaceAll('|', '\\|');

/** The Markdown table of every setting, from SETTINGS. */
export function configTable(): string {
  const rows = (Object.values(SETTINGS) as SettingSpec<unknown>[]).map((s) =>
    `| \`${s.env}\` | ${cell(s.default)} | ${cell(s.accepts)} | ${cell(s.meaning)} |`);
  return ['| Variable | Default | Accepts | Meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** The README with its table block replaced by the generated one. Throws when the markers are missing. */
export function withConfigTable(readme: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${TABLE_START} ... ${TABLE_END} block`);
  return `${readme.slice(0, start + TABLE_START.length)}\n${configTable()}\n${readme.slice(end)}`;
}
