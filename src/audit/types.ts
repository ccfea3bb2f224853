/** Something worth keeping a record of. Never a password, passcode or secret in `detail`. */
export interface AuditEvent {
  /** e.g. 'signin.success', 'push.sent', 'push.approved', 'device.enrolled', 'admin.user.create' */
  type: string;
  accountId?: string | null;
  clientId?: string | null;
  ip?: string | null;
  detail?: Record<string, unknown>;
}

export interface AuditLog {
  /**
   * Resolves once the record is written. `background`: no one waits on it (its step has answered),
   * so it may wait a moment to go in another record's statement (log.ts BACKGROUND_LINGER_MS).
   */
  record(event: AuditEvent, opts?: { background?: boolean }): Promise<void>;
}
