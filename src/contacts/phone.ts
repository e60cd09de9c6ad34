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
