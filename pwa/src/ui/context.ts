/** What every view gets from the app shell (app.ts). */
export interface AppContext {
  /** Goes to an app URL (relative to /pwa/), adding a history entry unless `replace`. */
  navigate(path: string, replace?: boolean): void;
  /** Called when the service worker says a push arrived or a request was answered; returns an unsubscribe. */
  onWorkerMessage(listener: (message: { type: string; cid?: string }) => void): () => void;
}

/** A mounted view: renders into `root`, returns its cleanup. */
export type View = (root: HTMLElement, ctx: AppContext, params: URLSearchParams) => () => void;
