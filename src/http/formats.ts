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

// ISO 3166-1 alpha-2: the officially assigned codes (user-assigned ones such as XK, and reserved
// ones such as UK or EU, are not countries there).
const ISO_3166_1_ALPHA_2 = new Set(
  (
    'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ ' +
    'CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR ' +
    'GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO ' +
    'JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR ' +
    'MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO ' +
    'RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV ' +
    'TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW'
  ).split(' '),
);

export function isIso3166Alpha2(value: string): boolean {
  return ISO_3166_1_ALPHA_2.has(value.toUpperCase());
}

// Parsed by the URL standard (what browsers and fetch accept), and only the web's two schemes: a
// website field holding `javascript:` or `file:` would be a trap for whoever clicks it.
export function isHttpUrl(value: string): boolean {
  if (!/^https?:\/\//i.test(value) || /\s/.test(value)) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

// Zone names as the tz database writes them: `Area/Location`, or a single name such as `UTC`.
// Offsets (`+01:00`) are not zones: they know nothing of daylight saving time.
const TIME_ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/;

/**
 * A zone name that the time zone database (as Node's ICU carries it) knows, in any of its spellings.
 * It is stored as sent: ICU's own spelling would turn `Asia/Kolkata` into `Asia/Calcutta`, and a
 * two-way sync would then see its own value come back changed.
 */
export function isIanaTimeZone(value: string): boolean {
  if (!TIME_ZONE_NAME.test(value)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

const CALENDAR_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * `YYYY-MM-DD` naming a day that exists, from 0001-01-01: PostgreSQL's date has no year 0, which
 * JSON Schema's `date` format accepts.
 */
export function isCalendarDate(value: string): boolean {
  const match = CALENDAR_DATE.exec(value);
  if (match === null) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  const date = new Date(Date.UTC(2000, month - 1, day));
  date.setUTCFullYear(year);
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

export const customFormats = {
  uuid: isUuid,
  'idempotency-key': isIdempotencyKey,
  'iso639-1': isIso6391,
  'linkedin-profile': isLinkedInProfileUrl,
  'email-address': isEmailAddress,
  'iso3166-1-alpha2': isIso3166Alpha2,
  'http-url': isHttpUrl,
  'iana-time-zone': isIanaTimeZone,
  'calendar-date': isCalendarDate,
} as const;
