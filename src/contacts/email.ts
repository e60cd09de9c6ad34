/** The form emails are compared in: trimmed and lower-cased (domains are case-insensitive, and in practice local parts are too). */
export function emailKey(address: string): string {
  return address.trim().toLowerCase();
}
