import { createHash } from 'node:crypto';

/**
 * Weak ETags (`W/"…"`): they identify a version of the resource's representation, which is what
 * optimistic concurrency needs, and the seed pages show them in that form.
 */
export function weakEtag(...parts: ReadonlyArray<string | number>): string {
  const digest = createHash('sha256').update(parts.join('\u001f')).digest('base64url').slice(0, 22);
  return `W/"${digest}"`;
}

function opaqueTag(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/**
 * The entity tags of an If-Match / If-None-Match value: `['*']` for the wildcard, null when the
 * value is not a list of quoted tags (a common client mistake worth a clear 400, not a silent 412).
 */
export function parseEntityTags(header: string): string[] | null {
  const value = header.trim();
  if (value === '*') return ['*'];
  const tags: string[] = [];
  let rest = value;
  while (rest.length > 0) {
    const match = /^(?:W\/)?"[^"]*"/.exec(rest);
    if (match === null) return null;
    tags.push(match[0]);
    rest = rest.slice(match[0].length).replace(/^\s*(?:,\s*)?/, '');
  }
  return tags.length > 0 ? tags : null;
}

/** RFC 9110 weak comparison (`W/"x"` matches `"x"`) against a parsed list. */
export function etagMatches(tags: readonly string[], current: string): boolean {
  if (tags.includes('*')) return true;
  const wanted = opaqueTag(current);
  return tags.some((tag) => opaqueTag(tag) === wanted);
}
