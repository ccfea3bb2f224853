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
  record(event: AuditEvent): Promise<void>;
}
