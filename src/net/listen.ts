import type { Server } from 'node:net';
import { ConfigError } from '../config/settings.js';

/**
 * Pure: a listen or bind failure as the configuration error it is, naming the setting to change
 * (red-team: a port in use, or a HOST not on this machine, was Node's "Unhandled 'error' event"
 * with a stack trace).
 */
export function listenRefusal(err: unknown, where: { host: string; port: number; hostSetting: string; portSetting: string }): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const at = `${where.host}:${where.port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new ConfigError('environment', where.portSetting, `${at} is already in use`);
    case 'EACCES':
      return new ConfigError('environment', where.portSetting, `${at} may not be listened on by this user`);
    case 'EADDRNOTAVAIL':
      return new ConfigError('environment', where.hostSetting, `${where.host} is not an address of this machine`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return new ConfigError('environment', where.hostSetting, `${where.host} does not resolve`);
    default:
      return err instanceof Error ? err : new Error(String(err));
  }
}

/** Listens, or rejects with listenRefusal's error. */
export function listenOrRefuse(server: Server, where: { host: string; port: number; hostSetting: string; portSetting: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (err: unknown) => reject(listenRefusal(err, where));
    server.once('error', fail);
    server.listen(where.port, where.host, () => {
      server.off('error', fail);
      resolve();
    });
  });
}
