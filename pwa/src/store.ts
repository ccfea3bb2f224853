import type { AccountRecord } from './types.js';

/**
 * IndexedDB: one object store of accounts keyed by issuer + device id. Used by the page and by
 * the service worker; a readwrite transaction is the lock between them.
 */

const DB_NAME = 'pushotp-authenticator';
const DB_VERSION = 1;
const ACCOUNTS = 'accounts';

let opening: Promise<IDBDatabase> | null = null;

function promisify<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

export function openDb(): Promise<IDBDatabase> {
  opening ??= new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(ACCOUNTS)) db.createObjectStore(ACCOUNTS, { keyPath: 'id' });
    };
    req.onsuccess = () => {
      const db = req.result;
      // Another context upgrading the schema: step aside and reopen on next use.
      db.onversionchange = () => {
        db.close();
        opening = null;
      };
      resolve(db);
    };
    req.onerror = () => {
      opening = null;
      reject(req.error ?? new Error('cannot open IndexedDB'));
    };
    req.onblocked = () => reject(new Error('IndexedDB is blocked by another tab'));
  });
  return opening;
}

export async function listAccounts(): Promise<AccountRecord[]> {
  const db = await openDb();
  const all = await promisify(db.transaction(ACCOUNTS).objectStore(ACCOUNTS).getAll() as IDBRequest<AccountRecord[]>);
  return all.sort((a, b) => a.createdAt - b.createdAt);
}

export async function getAccount(id: string): Promise<AccountRecord | null> {
  const db = await openDb();
  const found = await promisify(db.transaction(ACCOUNTS).objectStore(ACCOUNTS).get(id) as IDBRequest<AccountRecord | undefined>);
  return found ?? null;
}

export async function putAccount(account: AccountRecord): Promise<void> {
  const db = await openDb();
  const tx = db.transaction(ACCOUNTS, 'readwrite');
  tx.objectStore(ACCOUNTS).put(account);
  await done(tx);
}

export async function deleteAccount(id: string): Promise<void> {
  const db = await openDb();
  const tx = db.transaction(ACCOUNTS, 'readwrite');
  tx.objectStore(ACCOUNTS).delete(id);
  await done(tx);
}

/**
 * Read-modify-write in one transaction, so the page and the service worker never lose each
 * other's changes. `change` must be synchronous (an await would end the transaction). Returns the
 * stored record, or null when the account is gone.
 */
export async function updateAccount(id: string, change: (account: AccountRecord) => AccountRecord): Promise<AccountRecord | null> {
  const db = await openDb();
  const tx = db.transaction(ACCOUNTS, 'readwrite');
  const store = tx.objectStore(ACCOUNTS);
  let result: AccountRecord | null = null;
  const req = store.get(id) as IDBRequest<AccountRecord | undefined>;
  req.onsuccess = () => {
    if (!req.result) return;
    result = change(req.result);
    store.put(result);
  };
  await done(tx);
  return result;
}

/**
 * Takes the TOTP step for an answer: max(current, last used + 1), recorded before the code is
 * sent. The IdP accepts one step either side of its clock and each step once per device
 * (RFC 6238 5.2), so a second answer in the same 30 s uses the next step.
 */
export async function reserveStep(id: string, currentStep: number): Promise<number> {
  let step = currentStep;
  const stored = await updateAccount(id, (account) => {
    step = Math.max(currentStep, account.lastUsedStep + 1);
    return { ...account, lastUsedStep: step };
  });
  if (!stored) throw new Error('account not found');
  return step;
}
