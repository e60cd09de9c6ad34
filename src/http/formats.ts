/**
 * Formats the request schemas use beyond ajv-formats' own, registered on the body validator so
 * every failing field is reported in one response.
 */

// ISO 639-1: the two-letter language codes (deprecated ones such as iw, in, ji are not accepted).
const ISO_639_1 = new Set(
  (
    'aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el en eo es ' +
    'et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki ' +
    'kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no ' +
    'nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te ' +
    'tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu'
  ).split(' '),
);

export function isIso6391(value: string): boolean {
  return ISO_639_1.has(value.toLowerCase());
}

const LINKEDIN_PROFILE = /^https:\/\/www\.linkedin\.com\/in\/[^/?#\s]+\/?$/;

export function isLinkedInProfileUrl(value: string): boolean {
  return LINKEDIN_PROFILE.test(value);
}

// Pragmatic address check (the one browsers use for <input type=email>): one @, a dotted domain, no spaces.
const EMAIL =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$/;

export function isEmailAddress(value: string): boolean {
  return EMAIL.test(value);
}

// Printable ASCII, so a key survives every proxy and log unchanged; the length is the schema's.
const IDEMPOTENCY_KEY = /^[\x20-\x7e]+$/;

export function isIdempotencyKey(value: string): boolean {
  return IDEMPOTENCY_KEY.test(value);
}

// ajv-formats' uuid also accepts a `urn:uuid:` prefix, which PostgreSQL's uuid type refuses; ids
// here are the bare form, and anything else is a 400 before it reaches a query.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

export const customFormats = {
  uuid: isUuid,
  'idempotency-key': isIdempotencyKey,
  'iso639-1': isIso6391,
  'linkedin-profile': isLinkedInProfileUrl,
  'email-address': isEmailAddress,
} as const;
