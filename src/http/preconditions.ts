import { etagMatches, parseEntityTags } from './etag.js';
import { AppError } from './problem.js';

/** Parsed If-Match, or null when absent; 428 when the organization requires it on this write. */
export function readIfMatch(header: string | undefined, required: boolean): string[] | null {
  if (header === undefined) {
    if (required) {
      throw new AppError(
        'precondition-required',
        'Your organization requires If-Match on updates; send the ETag you last read.',
      );
    }
    return null;
  }
  const tags = parseEntityTags(header);
  if (tags === null) {
    throw AppError.validation({ 'If-Match': ['must be "*" or a list of entity tags such as W/"abc"'] });
  }
  return tags;
}

/** 412 unless the resource exists and its current ETag is among `ifMatch` (no If-Match: always passes). */
export function assertIfMatch(ifMatch: string[] | null, currentEtag: string | null, what: string): void {
  if (ifMatch === null) return;
  if (currentEtag === null) {
    throw new AppError('precondition-failed', `If-Match was given but the ${what} does not exist.`);
  }
  if (!etagMatches(ifMatch, currentEtag)) {
    throw new AppError(
      'precondition-failed',
      `The ${what} changed since you read it; fetch it again, merge, and retry with the new ETag.`,
      { currentEtag },
    );
  }
}
