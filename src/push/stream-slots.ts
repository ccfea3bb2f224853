import type http2 from 'node:http2';

/** Without the service's SETTINGS (the transport waits for them): RFC 9113 6.5.2 recommends at least 100. */
const INITIAL_STREAM_LIMIT = 100;
/** A service that sets no limit (unbounded, 2^32-1) still gets at most this many at once. */
const MAX_STREAM_LIMIT = 1000;

/**
 * Open streams on one session, kept within the service's SETTINGS_MAX_CONCURRENT_STREAMS: Node's
 * client does not queue past it (the extra streams are refused), so waiting requests queue here.
 */
export class StreamSlots {
  #open = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(private readonly session: http2.ClientHttp2Session) {}

  get #limit(): number {
    const limit = this.session.remoteSettings?.maxConcurrentStreams;
    return Math.min(MAX_STREAM_LIMIT, Math.max(1, typeof limit === 'number' ? limit : INITIAL_STREAM_LIMIT));
  }

  /** Runs `start` now if a stream may open, else when one closes (or the session ends). */
  acquire(start: () => void): () => void {
    if (this.#open < this.#limit) {
      this.#open += 1;
      start();
      return () => undefined;
    }
    this.#waiting.push(start);
    return () => {
      const i = this.#waiting.indexOf(start);
      if (i >= 0) this.#waiting.splice(i, 1);
    };
  }

  release(): void {
    this.#open -= 1;
    while (this.#open < this.#limit && this.#waiting.length > 0) {
      this.#open += 1;
      this.#waiting.shift()!();
    }
  }

  /** The session ended: every waiting request starts now and finds it gone. */
  drain(): void {
    for (const start of this.#waiting.splice(0)) start();
  }
}
