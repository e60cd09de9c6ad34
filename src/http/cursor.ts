import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Cursors are sealed with AES-256-GCM: opaque to clients (they cannot read or build positions) and
 * tamper-evident (any change fails authentication). The payload names the organization, so a
 * cursor is useless to any other tenant.
 */
export interface CursorPayload {
  /** Organization the cursor was issued to. */
  o: string;
  [key: string]: unknown;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

export function encodeCursor(payload: CursorPayload, secret: Buffer): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', secret, iv);
  const sealed = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
}

/** The payload when the cursor is intact and was issued to `organizationId`; otherwise null. */
export function decodeCursor(cursor: string, secret: Buffer, organizationId: string): CursorPayload | null {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  const raw = Buffer.from(cursor, 'base64url');
  if (raw.length <= IV_BYTES + TAG_BYTES) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', secret, raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    const plain = Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
    const payload = JSON.parse(plain.toString('utf8')) as CursorPayload;
    return payload !== null && typeof payload === 'object' && payload.o === organizationId ? payload : null;
  } catch {
    return null;
  }
}
