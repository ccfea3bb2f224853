import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * One function of a native part that `npm run build` made into dist/native/ (scripts/build-native.mjs),
 * or why it cannot be used: never built, not an addon of this Node, or without that function.
 * `shown` is how the file is named in that reason (its path in the project).
 */
export function addonFunction<F>(file: string, shown: string, name: string): { fn: F; problem: null } | { fn: null; problem: string } {
  if (!existsSync(file)) return { fn: null, problem: `${shown} was not built: see dist/native/build.json` };
  try {
    const fn = (createRequire(import.meta.url)(file) as Record<string, unknown>)[name];
    return typeof fn === 'function' ? { fn: fn as F, problem: null } : { fn: null, problem: `${shown} has no ${name}` };
  } catch (err) {
    return { fn: null, problem: loadProblem(shown, err) };
  }
}

/** The reason given when a native part throws as it is loaded or first called. */
export const loadProblem = (shown: string, err: unknown): string => `${shown} did not load: ${(err as Error).message.split('\n')[0]}`;
