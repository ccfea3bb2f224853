/**
 * The Configuration table in README.md is generated from the settings schema: an operator reading
 * it must see every variable the IdP reads, with the default, range and meaning the code has. This
 * fails when someone edits one without the other (fix: `npm run config-table`).
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadSettings, SETTINGS } from '../../src/config/settings.js';
import { configTable, TABLE_END, TABLE_START, withConfigTable } from '../../src/config/settings-table.js';

const readme = readFileSync('README.md', 'utf8');

describe('README.md Configuration table', () => {
  it('is the one generated from src/config/settings.ts', () => {
    const block = readme.slice(readme.indexOf(TABLE_START) + TABLE_START.length, readme.indexOf(TABLE_END)).trim();
    expect(readme).toContain(TABLE_START);
    expect(block).toBe(configTable());
    expect(withConfigTable(readme)).toBe(readme);
  });

  it('lists every variable once, each with a default, what it accepts and a meaning', () => {
    const specs = Object.values(SETTINGS);
    expect(new Set(specs.map((s) => s.env)).size).toBe(specs.length);
    for (const s of specs) {
      expect(s.default).not.toBe('');
      expect(s.accepts).not.toBe('');
      expect(s.meaning).toMatch(/\.$/);
    }
  });

  it('names every variable that loadSettings reads', () => {
    const read = new Set<string>();
    const env = new Proxy({} as NodeJS.ProcessEnv, { get: (_t, name) => { if (typeof name === 'string') read.add(name); return undefined; } });
    loadSettings(env, '/srv/idp');
    expect([...read].sort()).toEqual(Object.values(SETTINGS).map((s) => s.env).sort());
  });

  it('and nothing else in src/ reads the environment behind its back', () => {
    const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => {
      const p = path.join(dir, f);
      return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
    });
    const readers = files('src').filter((f) => f !== path.join('src', 'config', 'settings.ts') && /process\.env\.|process\.env\[/.test(readFileSync(f, 'utf8')));
    expect(readers).toEqual([]);
  });
});

describe('the documented defaults are the ones applied', () => {
  const s = loadSettings({}, '/srv/idp');
  it.each([
    ['PORT', s.port], ['HOST', s.host], ['REDIS_PREFIX', s.redisPrefix], ['VAPID_SUBJECT', s.vapidSubject],
    ['PUSH_CHALLENGE_TTL', s.pushChallengeTtl], ['PUSH_LIMIT', s.pushFatigue.limit], ['PUSH_LIMIT_WINDOW', s.pushFatigue.windowMs / 1000],
    ['PUSH_FORCE_MATCH_AFTER', s.pushFatigue.forceMatchAfter], ['PUSH_MUTE_AFTER_REPORT', s.pushFatigue.muteMs / 1000],
    ['DEVICE_UNLOCK', s.deviceUnlock], ['POLL_INTERVAL', s.pollIntervalSeconds], ['SESSION_MAX_AGE', s.session.maxAgeSeconds],
    ['SESSION_IDLE_TIMEOUT', s.session.idleSeconds], ['MAX_DEVICES_PER_ACCOUNT', s.maxDevicesPerAccount], ['LOG_LEVEL', s.logLevel],
  ])('%s', (name, value) => {
    const spec = Object.values(SETTINGS).find((x) => x.env === name)!;
    expect(spec.default).toBe(`\`${value}\``);
  });
});
