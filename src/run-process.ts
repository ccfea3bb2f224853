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
 * took longer than its limit. The handlers are in place before the start begins: a signal that
 * arrives while it runs (or just after its banner) stops the process once it has started (before,
 * it met no handler and the process died of it: a CI run sent SIGTERM on seeing the banner).
 */
export function runProcess(start: () => Promise<Running>, startLimitMs = 60_000): void {
  let running: Running | null = null;
  let asked: NodeJS.Signals | null = null;
  let stopping = false;
  const stop = (signal: NodeJS.Signals, { stop: end, stopLimitMs }: Running) => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => {
      process.stderr.write('Shutdown took too long: exiting\n');
      process.exit(1);
    }, stopLimitMs).unref();
    end(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`Shutdown failed: ${(err as Error).stack ?? err}\n`);
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (running) return stop(signal, running);
    if (asked) return;
    asked = signal;
    // A start that never ends does not hold a stop request for ever.
    setTimeout(() => {
      process.stderr.write('Stopped while starting: the start took too long\n');
      process.exit(1);
    }, startLimitMs).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  start().then((started) => {
    running = started;
    if (asked) stop(asked, started);
  }, (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`Failed to start: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
