import path from 'node:path';
import { Eta } from 'eta';
import { projectRoot } from './paths.js';

/** Server-rendered pages from views/*.eta; every value is HTML-escaped unless a template says otherwise. */
export interface Views {
  render(name: string, data: Record<string, unknown>): string;
}

export function createViews(dir = path.join(projectRoot(), 'views')): Views {
  const eta = new Eta({ views: dir, cache: true, autoEscape: true, autoTrim: false });
  return {
    render: (name, data) => eta.render(name, { title: 'Sign in', ...data }),
  };
}
