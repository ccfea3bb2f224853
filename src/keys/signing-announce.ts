import type { Redis } from '../storage/redis.js';

/**
 * A rotation's word to the running IdP processes. `admin keys rotate` writes the new plan to the
 * database and then publishes on this channel; every process that hears it re-reads the stored keys
 * at once, instead of at its next minute's check (./signing-refresh.ts). Without it, after
 * `keys rotate --activate-after 0` two processes served different JWKS for up to a minute, and an
 * app that had fetched the JWKS from one could not verify an ID token the other signed.
 *
 * The message carries nothing: the plan is in the database, and a process only re-reads it, so a
 * message from anyone who can publish on the IdP's Redis changes nothing but the time of a read.
 * A message missed while the listener's connection was down is made up for when it is back (a read
 * then), and the minute's check stays as the net under both.
 */
export function signingKeysChannel(redis: Redis): string {
  return `${redis.options.keyPrefix ?? ''}pushotp:signing-keys`;
}

/** Tells the running processes that the stored signing keys changed. */
export async function announceSigningKeys(redis: Redis): Promise<void> {
  await redis.publish(signingKeysChannel(redis), 'changed');
}

/**
 * Re-reads the stored keys (`refresh`) when a rotation is announced on `subscriber` (a connection
 * from openSubscriber, shared with the challenge waiters), and each time the connection is ready
 * again after a drop. Returns the way to stop listening.
 */
export function followSigningKeyAnnouncements(subscriber: Redis, channel: string, refresh: () => Promise<void>): () => Promise<void> {
  const onMessage = (ch: string): void => {
    if (ch === channel) void refresh();
  };
  let readyBefore = subscriber.status === 'ready';
  const onReady = (): void => {
    subscriber.subscribe(channel).catch(() => undefined);
    // Messages sent while it was down are gone: read once now.
    if (readyBefore) void refresh();
    readyBefore = true;
  };
  subscriber.on('message', onMessage);
  subscriber.on('ready', onReady);
  const subscribed = subscriber.subscribe(channel).catch(() => undefined);
  return async () => {
    subscriber.off('message', onMessage);
    subscriber.off('ready', onReady);
    await subscribed;
    await subscriber.unsubscribe(channel).catch(() => undefined);
  };
}
