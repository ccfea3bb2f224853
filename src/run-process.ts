import { ConfigError } from './config/settings.js';

/** A started process (npm start, npm run radius) as its signal handlers see it. */
export interface Running {
  /** Ends the work in order (drain, close the listeners, then Redis and the database). */
  stop(signal: NodeJS.Signals): Promise<void>;
  /** Past this, the process exits 1 whatever still hangs (a dead Redis at close). */
  stopLimitMs: number;
}

/**
 * Runs a process's start and wires its end (docs/production.md, Shutdown): a configuration error
 * exits 2 naming the file and field, any other start failure 1; SIGINT or SIGTERM runs `stop`
 * once (a second signal does not start a second shutdown), then exits 0, or 1 when it failed or
 * took longer than its limit.
 */
export function runProcess(start: () => Promise<Running>): void {
  start().then(({ stop, stopLimitMs }) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      setTimeout(() => {
        process.stderr.write('Shutdown took too long: exiting\n');
        process.exit(1);
      }, stopLimitMs).unref();
      stop(signal).then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`Shutdown failed: ${(err as Error).stack ?? err}\n`);
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }, (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`Failed to start: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
