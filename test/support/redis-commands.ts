import { Redis as IORedis } from 'ioredis';

/** One command as a Redis client sent it (keys with the client's prefix, as MONITOR shows them). */
export interface SentCommand {
  name: string;
  args: string[];
}

/**
 * Records the commands every ioredis client of this process sends (the IdP's, its subscriber's),
 * as the bench counts them (bench/support/idp-server.ts): one entry per command on the wire,
 * auto-pipelined or not. Commands inside a script are not counted: they are no round trip.
 */
export function recordRedisCommands() {
  const original = IORedis.prototype.sendCommand;
  let current: SentCommand[] | null = null;
  IORedis.prototype.sendCommand = function (this: IORedis, command, stream) {
    current?.push({ name: command.name, args: command.args.map((a) => (Buffer.isBuffer(a) ? a.toString() : String(a))) });
    return original.call(this, command, stream);
  };
  return {
    /** The commands sent while `fn` ran (and until it settled). */
    async during<T>(fn: () => Promise<T>): Promise<{ result: T; commands: SentCommand[] }> {
      const commands: SentCommand[] = [];
      current = commands;
      try {
        return { result: await fn(), commands };
      } finally {
        current = null;
      }
    },
    restore() {
      IORedis.prototype.sendCommand = original;
    },
  };
}

/** Commands of one name (lower case) with an argument matching `arg`. */
export const sent = (commands: SentCommand[], name: string, arg: RegExp): SentCommand[] =>
  commands.filter((c) => c.name === name && c.args.some((a) => arg.test(a)));
