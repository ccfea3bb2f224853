import { randomBytes } from 'node:crypto';

/**
 * Where the real servers are. `.ci/run` sets these; on a developer machine of this project they
 * default to the servers that run on 127.0.0.1.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/** A fresh key prefix so that test files sharing one Redis never see each other's keys. */
export function uniquePrefix(label: string): string {
  return `t:${label}:${randomBytes(4).toString('hex')}:`;
}
