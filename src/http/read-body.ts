import type { IncomingMessage } from 'node:http';

/** What a body reader answers when the body is too large, or when it cannot be read. */
export interface BodyRefusals {
  /** Over the limit. Its answer should carry `Connection: close` (see readBody). */
  tooLarge(): Error;
  /** The client hung up mid-body, or the stream failed: not a fault of ours (no 500, no stack). */
  unreadable(): Error;
}

/** The header a too-large refusal carries: the rest of the body is never read, so the connection ends after the answer. */
export const CLOSE_AFTER_ANSWER = { Connection: 'close' } as const;

/**
 * The request body, at most `limit` bytes. A declared Content-Length over the limit is refused
 * before a byte is read. Read by listeners rather than `for await` (an async iterator and a promise
 * per chunk, on every token request: bench/token-endpoint.ts).
 *
 * A body that grows past the limit as it arrives (chunked, or a Content-Length that lies low) is
 * left unread and paused, never destroyed: destroying the request stream closed the socket, and
 * the 413 the caller then wrote reached no one (hostile-input red-team: a 60 KB chunked body to
 * /token got an empty reply while the access log said 413). The refusal carries `Connection: close`,
 * so Node ends the connection once the answer is out instead of reading the rest.
 */
export function readBody(req: IncomingMessage, declaredLength: number | undefined, limit: number, refusals: BodyRefusals): Promise<Buffer> {
  if (declaredLength !== undefined && declaredLength > limit) return Promise.reject(refusals.tooLarge());
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received <= limit) {
        chunks.push(chunk);
        return;
      }
      stop();
      req.pause();
      // A stream paused with no 'error' listener would crash the process on a later reset.
      req.on('error', ignore);
      reject(refusals.tooLarge());
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, received));
    };
    const onError = () => {
      stop();
      req.on('error', ignore);
      req.destroy();
      reject(refusals.unreadable());
    };
    const onClose = () => {
      if (req.readableEnded) return;
      stop();
      reject(refusals.unreadable());
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function ignore(): void {}
