import { ApiError, unregister } from '../api.js';
import { startPolling, type PollResult } from '../poll.js';
import { askPermission, enablePush, pushUnavailableReason, releasePush, syncPush } from '../push-setup.js';
import { credentials, describeError, freshOtp } from '../request.js';
import { isLocked, lock, materialFor } from '../secrets.js';
import { deleteAccount, listAccounts } from '../store.js';
import { secondsLeft, stepAt, totpAt } from '../totp.js';
import type { AccountRecord, DeviceChallenge } from '../types.js';
import type { View } from './context.js';
import { announce, button, h, heading, replace } from './dom.js';
import { accountLabel, groupCode, hostOf, timeAgo } from './format.js';
import { t } from './lang.js';
import { requestPath } from '../payload.js';
import { pinForm, verifyButton } from './unlock.js';

/** The home screen: every account with its passcode and countdown, and requests waiting for an answer. */

interface CodeSlot {
  account: AccountRecord;
  code: HTMLElement;
  fill: HTMLElement;
  secs: HTMLElement;
  step: number;
}

export const homeView: View = (root, ctx) => {
  let accounts: AccountRecord[] = [];
  let slots: CodeSlot[] = [];
  const pending = new Map<string, DeviceChallenge[]>();
  const notes = new Map<string, string>();
  let stopped = false;

  const list = h('ul', { class: 'accounts', 'aria-labelledby': 'accounts-h' });
  const requestsList = h('ul', { class: 'requests' });
  const requests = h('section', { class: 'requests-section', 'aria-labelledby': 'requests-h', hidden: true }, h('h2', { id: 'requests-h' }, t('home.waiting')), requestsList);
  const empty = h('p', { class: 'empty', hidden: true }, t('home.empty'));
  const h1 = heading(t('home.title'));
  h1.id = 'accounts-h';
  replace(
    root,
    h1,
    requests,
    empty,
    list,
    h('p', { class: 'actions' }, button(t('home.add'), () => ctx.navigate('./?add=1'), { class: 'primary', 'data-testid': 'add-account' })),
  );

  async function updateCodes(): Promise<void> {
    const now = Date.now();
    for (const slot of slots) {
      const { account } = slot;
      const material = materialFor(account);
      if (!material) continue;
      const step = stepAt(now, account.totp.period);
      const left = secondsLeft(now, account.totp.period);
      slot.fill.style.transform = `scaleX(${left / account.totp.period})`;
      slot.secs.textContent = t('home.seconds', { seconds: String(left) });
      slot.fill.classList.toggle('low', left <= 5);
      if (step !== slot.step) {
        slot.step = step;
        const code = await totpAt(material.totpKey, now, account.totp);
        slot.code.textContent = groupCode(code);
        slot.code.dataset.code = code;
      }
    }
  }

  function renderRequests(): void {
    const items: HTMLLIElement[] = [];
    for (const account of accounts) {
      for (const c of pending.get(account.id) ?? []) {
        items.push(
          h(
            'li',
            { class: 'request', 'data-testid': `pending-${c.id}` },
            h('p', {}, h('strong', {}, c.app || t('home.signIn')), ` · ${timeAgo(c.createdAt)}`),
            h('p', { class: 'meta' }, `${accountLabel(account)} · ${c.location || c.ip}`),
            // An OpenID CIBA request's binding message: the text the asking app shows (text only).
            c.bindingMessage ? h('p', { class: 'binding' }, `"${c.bindingMessage}"`) : null,
            button(t('home.review'), () => ctx.navigate(requestPath(c.id, account.issuer, account.deviceId)), { class: 'primary' }),
          ),
        );
      }
    }
    const before = requestsList.children.length;
    replace(requestsList, ...items);
    requests.hidden = items.length === 0;
    if (items.length > before) announce(items.length === 1 ? t('home.oneWaiting') : t('home.manyWaiting', { count: String(items.length) }));
  }

  function pushLine(account: AccountRecord): HTMLElement {
    if (account.push.status === 'active') return h('p', { class: 'meta', 'data-testid': 'push-state' }, t('home.push.on'));
    const unavailable = pushUnavailableReason();
    const turnOn = unavailable
      ? null
      : button(t('home.push.turnOn'), async (ev) => {
          const b = ev.currentTarget as HTMLButtonElement;
          const permission = askPermission(); // from the tap, before any await
          const material = materialFor(account);
          if (!material) {
            notes.set(account.id, t('home.push.unlockFirst'));
            return render();
          }
          b.disabled = true;
          b.textContent = t('home.push.turningOn');
          const outcome = (await permission) === 'granted' ? await enablePush(account, material) : { ok: false as const, reason: t('home.push.notAllowed') };
          notes.set(account.id, outcome.ok ? t('home.push.nowOn') : t('home.push.stillOff', { reason: outcome.reason }));
          announce(notes.get(account.id)!);
          await reload();
        });
    return h(
      'div',
      { class: 'push-off' },
      h('p', { class: 'meta', 'data-testid': 'push-state' }, t('home.push.poll')),
      unavailable ? h('p', { class: 'hint' }, unavailable) : null,
      turnOn,
    );
  }

  /** Unregister refusals after which nothing is left to tell the server: the device is no longer listed as active there. */
  const UNREGISTER_MOOT = new Set(['network_error', 'device_revoked', 'unknown_device']);

  function removeControls(account: AccountRecord): HTMLElement {
    const box = h('div', { class: 'remove' });
    const ask = button(t('home.remove'), () => {
      const yes = button(t('home.remove.confirm'), () => void remove(account), { class: 'danger', 'data-testid': 'confirm-remove' });
      replace(
        box,
        h('p', { role: 'alert' }, t(isLocked(account) && account.secrets.kind === 'pin' ? 'home.remove.askLocked' : 'home.remove.ask', { account: accountLabel(account) })),
        yes,
        button(t('home.remove.cancel'), () => render()),
      );
      yes.focus();
    }, { 'data-testid': 'remove' });
    replace(box, ask);
    return box;
  }

  async function remove(account: AccountRecord): Promise<void> {
    const material = materialFor(account);
    let toldServer = true;
    if (material && !account.revoked) {
      try {
        // Answers just sent may hold the next passcode steps: say why Remove waits for one.
        const onWait = (seconds: number) => announce(t('home.remove.waitStep', { account: accountLabel(account), seconds: String(seconds) }));
        await unregister(credentials(account, material), await freshOtp(account, material, onWait));
      } catch (err) {
        // Refused by the server (too many wrong passcodes, a clock far off...): the account stays on
        // this phone, whose keys alone can still tell the server later. Red-team: the keys were
        // deleted and "removed" said while the server kept the device active, removable then only
        // from the account page.
        if (err instanceof ApiError && !UNREGISTER_MOOT.has(err.code)) {
          announce(t('home.remove.refused', { account: accountLabel(account), reason: describeError(err, t) }));
          await reload();
          return;
        }
        // Offline: the local keys go anyway; the server lists the device until it is removed there.
        toldServer = err instanceof ApiError && err.code !== 'network_error';
      }
    }
    await releasePush(account).catch(() => {});
    await deleteAccount(account.id);
    lock(account.id);
    pending.delete(account.id);
    // One announcement (a second would replace the first in the live region).
    const removed = t('home.removed', { account: accountLabel(account) });
    announce(toldServer ? removed : `${removed} ${t('home.remove.offline')}`);
    await reload();
  }

  function card(account: AccountRecord): HTMLLIElement {
    const title = h('h2', {}, accountLabel(account));
    const meta = h('p', { class: 'meta' }, `${account.account.username} · ${hostOf(account.issuer)}`);
    const li = h('li', { class: 'card', 'data-testid': 'account', 'data-account': account.id }, title, meta);
    const note = notes.get(account.id);
    if (account.revoked) {
      li.append(
        h('p', { class: 'alert', role: 'alert' }, t('home.revoked')),
        h('p', { class: 'actions' }, button(t('home.enrollAgain'), () => ctx.navigate(`./?${new URLSearchParams({ add: '1', issuer: account.issuer })}`), { class: 'primary' })),
        removeControls(account),
      );
      return li;
    }
    if (isLocked(account)) {
      const onOpen = () => {
        const material = materialFor(account);
        if (material) void syncPush(account, material).catch(() => {});
        void render().then(() => poller.refreshNow());
      };
      li.append(account.secrets.kind === 'pin' ? pinForm(account, onOpen) : verifyButton(account, onOpen));
    } else {
      const code = h('p', { class: 'code', 'data-testid': 'code' }, '––– –––');
      const fill = h('span', { class: 'timer-fill' });
      const secs = h('span', { class: 'secs' });
      slots.push({ account, code, fill, secs, step: -1 });
      li.append(
        h('div', { class: 'passcode' }, h('span', { class: 'visually-hidden' }, t('home.passcode')), code),
        h('div', { class: 'timer' }, h('span', { class: 'timer-track', 'aria-hidden': 'true' }, fill), h('span', { class: 'visually-hidden' }, t('home.changesIn')), secs),
        h('p', { class: 'actions' }, button(t('home.copy'), async () => {
          try {
            await navigator.clipboard.writeText(code.dataset.code ?? '');
            announce(t('home.copied'));
          } catch {
            announce(t('home.copyRefused'));
          }
        })),
      );
    }
    li.append(pushLine(account));
    if (note) li.append(h('p', { class: 'note', role: 'status' }, note));
    li.append(removeControls(account));
    return li;
  }

  async function render(): Promise<void> {
    if (stopped) return;
    slots = [];
    empty.hidden = accounts.length > 0;
    replace(list, ...accounts.map(card));
    renderRequests();
    await updateCodes();
  }

  async function reload(): Promise<void> {
    accounts = await listAccounts();
    await render();
  }

  function onPoll(result: PollResult): void {
    if (result.revoked) {
      void reload();
      return;
    }
    if (result.challenges) pending.set(result.accountId, result.challenges);
    else if (result.error instanceof ApiError && result.error.code !== 'network_error') notes.set(result.accountId, describeError(result.error, t));
    renderRequests();
  }

  const poller = startPolling(() => accounts, onPoll);
  const timer = setInterval(() => void updateCodes(), 1000);
  const unlisten = ctx.onWorkerMessage((msg) => {
    if (msg.type === 'push' || msg.type === 'answered') poller.refreshNow();
  });
  void reload().then(() => {
    poller.refreshNow();
    for (const account of accounts) {
      const material = materialFor(account);
      if (material) void syncPush(account, material).catch(() => {});
    }
  });

  return () => {
    stopped = true;
    clearInterval(timer);
    poller.stop();
    unlisten();
  };
};
