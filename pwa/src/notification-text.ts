import type { Translate } from './i18n.js';
import type { PushPayload } from './types.js';

/**
 * What a sign-in request's notification says. Pure. The title asks the question ("Are you signing
 * in to Demo App?"); the body names the account and the place: "Alice · London, United Kingdom ·
 * 14:05" (the IP when the place is unknown), after a CIBA app's binding message. With number
 * matching the first action is "Review": it opens the request page with the numbers to choose.
 */
export interface NotificationText {
  title: string;
  body: string;
  actions: { action: 'approve' | 'review' | 'deny'; title: string }[];
}

export interface AccountLabel {
  name: string;
  /** The IdP's host, shown when the phone holds several accounts. */
  host: string;
}

export function requestNotification(
  payload: PushPayload,
  account: AccountLabel | null,
  opts: { accountCount: number; canAnswer: boolean; time: string; t: Translate },
): NotificationText {
  const { t } = opts;
  const title = payload.app ? t('notify.title', { app: payload.app }) : t('notify.title.unknownApp');
  const who = account ? (opts.accountCount > 1 ? `${account.name} (${account.host})` : account.name) : null;
  const line = [who, payload.location || payload.ip, opts.time].filter(Boolean).join(' · ');
  const body = payload.bindingMessage ? `"${payload.bindingMessage}"\n${line}` : line;
  const actions: NotificationText['actions'] = !opts.canAnswer
    ? []
    : payload.numberMatching
      ? [{ action: 'review', title: t('notify.action.review') }, { action: 'deny', title: t('notify.action.deny') }]
      : [{ action: 'approve', title: t('notify.action.approve') }, { action: 'deny', title: t('notify.action.deny') }];
  return { title, body, actions };
}
