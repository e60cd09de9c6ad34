import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, type FieldErrors } from './problem.js';

/**
 * Request bodies are JSON in UTF-8, read strictly: what is stored must be exactly what was sent, so
 * anything a lenient reader would silently reinterpret is refused instead.
 * - A `charset` other than UTF-8 is a 415: decoding latin1 or UTF-16 as UTF-8 would store other text.
 * - Bytes that are not UTF-8 are a 400: decoding would replace them with U+FFFD.
 * - A key that appears twice in one object is a 400: JSON.parse keeps the last one without a word,
 *   and which one the client meant is anybody's guess.
 * - A document beyond the bounds below is a 400 before it is parsed. Each bound sits far above what
 *   any request schema accepts (their own, tighter limits answer with the precise field rule), so only
 *   documents no operation could accept are refused here; what they save is the parsing, the
 *   validation and the memory a 10 MiB body of a million tiny values would cost on the event loop.
 */
export const MAX_JSON_DEPTH = 64;
/** The largest maxItems of any request schema (a batch's items). */
export const MAX_JSON_ARRAY_ITEMS = 1_000;
export const MAX_JSON_OBJECT_KEYS = 1_000;
/** Strings and punctuation in the whole document: a full 1,000-item batch needs a fraction of it. */
export const MAX_JSON_TOKENS = 250_000;
/** Characters of one string as written (escapes included); no field comes near it. */
export const MAX_JSON_STRING_LENGTH = 1_000_000;

const UTF8_CHARSETS = new Set(['utf-8', 'utf8']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

// Strings (with their escapes) and the punctuation that shapes objects and arrays; numbers and
// literals need no attention. The string alternative is unrolled so that long strings do not
// backtrack, and a string that never closes runs to the end once (`$`): without that, each of its
// escaped quotes would start a new scan to the end of the body, quadratic in its length.
const TOKEN = /"[^"\\]*(?:\\[\s\S][^"\\]*)*(?:"|$)|[{}[\],]/g;

interface ObjectFrame {
  readonly object: true;
  keys: Set<string> | null;
  expectingKey: boolean;
  key: string;
}
interface ArrayFrame {
  readonly object: false;
  index: number;
}
type Frame = ObjectFrame | ArrayFrame;

/** Where the scan stands, in the `emails[0].address` form of validation errors. */
function pathOf(frames: readonly Frame[], key?: string): string {
  let path = '';
  const append = (name: string) => {
    path += path === '' ? name : `.${name}`;
  };
  for (const frame of frames) {
    if (frame.object) append(frame.key);
    else path += `[${frame.index}]`;
  }
  if (key !== undefined) append(key);
  return path === '' ? 'body' : path;
}

/** The key a token spells, or null when it is not a valid JSON string (the parser then says so). */
function decodeKey(token: string): string | null {
  if (!token.includes('\\')) return token.endsWith('"') && token.length > 1 ? token.slice(1, -1) : null;
  try {
    // Keys with escapes are compared by what they mean: "a" and "\u0061" are the same key.
    return JSON.parse(token) as string;
  } catch {
    return null;
  }
}

/**
 * One pass over the text, before it is parsed, for what JSON.parse cannot report (repeated keys) and
 * for the document bounds above. Returns the field errors, or null. Malformed JSON is left to the
 * parser that runs next.
 */
export function findStructureProblems(text: string): FieldErrors | null {
  const stack: Frame[] = [];
  let tokens = 0;
  TOKEN.lastIndex = 0;
  for (let match = TOKEN.exec(text); match !== null; match = TOKEN.exec(text)) {
    if (++tokens > MAX_JSON_TOKENS) return { body: [`holds more than ${MAX_JSON_TOKENS} values`] };
    const token = match[0];
    const first = token.charCodeAt(0);
    const top = stack[stack.length - 1];
    if (first === 0x22 /* " */) {
      const isKey = top?.object === true && top.expectingKey;
      if (token.length > MAX_JSON_STRING_LENGTH + 2) {
        return {
          [pathOf(stack)]: [`${isKey ? 'has a field name' : 'is'} longer than ${MAX_JSON_STRING_LENGTH} characters`],
        };
      }
      if (isKey) {
        const key = decodeKey(token);
        if (key === null) return null;
        top.expectingKey = false;
        top.keys ??= new Set();
        if (top.keys.has(key)) return { [pathOf(stack.slice(0, -1), key)]: ['appears more than once in its object'] };
        if (top.keys.size >= MAX_JSON_OBJECT_KEYS) {
          return { [pathOf(stack.slice(0, -1))]: [`has more than ${MAX_JSON_OBJECT_KEYS} fields`] };
        }
        top.keys.add(key);
        top.key = key;
      }
    } else if (first === 0x7b /* { */ || first === 0x5b /* [ */) {
      if (stack.length >= MAX_JSON_DEPTH) {
        return { [pathOf(stack)]: [`nests deeper than ${MAX_JSON_DEPTH} levels`] };
      }
      stack.push(
        first === 0x7b ? { object: true, keys: null, expectingKey: true, key: '' } : { object: false, index: 0 },
      );
    } else if (first === 0x7d /* } */ || first === 0x5d /* ] */) {
      stack.pop();
    } else if (top !== undefined) {
      // A comma: the next member of the object, or the next element of the array.
      if (top.object) {
        top.expectingKey = true;
      } else if (++top.index >= MAX_JSON_ARRAY_ITEMS) {
        return { [pathOf(stack.slice(0, -1))]: [`has more than ${MAX_JSON_ARRAY_ITEMS} items`] };
      }
    }
  }
  return null;
}

/** The `charset` parameter of a Content-Type header, lower-cased, or null when there is none. */
export function charsetOf(contentType: string | undefined): string | null {
  if (contentType === undefined) return null;
  for (const parameter of contentType.split(';').slice(1)) {
    const separator = parameter.indexOf('=');
    if (separator === -1) continue;
    if (parameter.slice(0, separator).trim().toLowerCase() !== 'charset') continue;
    return parameter
      .slice(separator + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
  }
  return null;
}

type JsonParser = (request: FastifyRequest, body: string, done: (error: Error | null, value?: unknown) => void) => void;

export function registerJsonBodyParser(app: FastifyInstance): void {
  // Fastify's own parser still does the parsing: it knows empty bodies and rejects __proto__ and
  // constructor.prototype keys (prototype poisoning) with its own error codes.
  const parseJson: JsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const charset = charsetOf(request.headers['content-type']);
    if (charset !== null && !UTF8_CHARSETS.has(charset)) {
      done(
        new AppError('unsupported-media-type', `Send JSON in UTF-8; charset=${charset.slice(0, 40)} is not accepted.`),
      );
      return;
    }
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new AppError('malformed-request', 'The body is not valid UTF-8.'));
      return;
    }
    const problems = findStructureProblems(text);
    if (problems !== null) {
      done(AppError.validation(problems));
      return;
    }
    parseJson(request, text, done);
  });
}
