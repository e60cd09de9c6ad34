import { type CountryCode, parsePhoneNumberWithError } from 'libphonenumber-js/max';

/**
 * E.164 when the number is valid (read with `defaultRegion` when it has no country code); otherwise
 * the input trimmed, so nothing a client sends is lost. Matching compares these canonical forms.
 */
export function normalizePhone(raw: string, defaultRegion: string | null): string {
  const trimmed = raw.trim();
  try {
    const parsed = parsePhoneNumberWithError(trimmed, (defaultRegion ?? undefined) as CountryCode | undefined);
    return parsed.isValid() ? parsed.number : trimmed;
  } catch {
    return trimmed;
  }
}

/**
 * The form phones are compared in (matching, locks, duplicates): E.164 whenever libphonenumber can
 * read the number as a possible one for the region, valid or not, so `(555) 987-6543` with region US
 * matches `+15559876543` although no such US number is assigned; otherwise the trimmed input.
 */
export function phoneKey(phone: string, defaultRegion: string | null): string {
  const trimmed = phone.trim();
  try {
    const parsed = parsePhoneNumberWithError(trimmed, (defaultRegion ?? undefined) as CountryCode | undefined);
    return parsed.isPossible() ? parsed.number : trimmed;
  } catch {
    return trimmed;
  }
}
