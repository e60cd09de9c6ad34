/**
 * Import of contacts from a CSV or JSON Lines file, through the batch engine: rows become batch
 * items (keyed by external reference with --namespace and --id-column, else matched by email/phone)
 * and run exactly as POST /contacts/batch would run them. Rows that fail are written, with their
 * problem, to a JSON Lines file; running the same import again is safe, since every row is an upsert.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import { parse } from 'csv-parse';
import type { Db } from '../db/database.js';
import { type BatchResult, type BatchSummary, itemValidator, MAX_BATCH_ITEMS, runBatch } from '../http/batch.js';
import { createValidatorCompiler } from '../http/validation.js';
import { COMPANY_NAME_FIELD, CUSTOM_FIELD_KEY_PATTERN, FIELD_LIST, NAME_FIELD } from './contact.fields.js';
import { ContactBatchItem, type ContactBatchItemInput } from './contact.schemas.js';
import type { OrganizationContext } from './contact.service.js';
import { contactBatchHandlers } from './contact-batch.service.js';
import { emailKey } from './email.js';

export interface ImportOptions {
  file: string;
  format: 'csv' | 'jsonl';
  namespace: string | null;
  idColumn: string | null;
  batchSize: number;
  /** Batches written at once; rows of one key always go to the same lane. */
  lanes: number;
  failedFile: string;
  /** Called after every batch with the rows done so far. */
  onProgress?: (rowsDone: number) => void;
}

export interface ImportReport {
  rows: number;
  summary: BatchSummary;
  failedFile: string | null;
  seconds: number;
  rowsPerSecond: number;
}

function splitList(cell: string): string[] {
  return cell
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

/** `true`/`false` in any case; anything else goes through as written, and validation names the row's field. */
function booleanCell(cell: string): unknown {
  const lower = cell.trim().toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : cell;
}

/**
 * The CSV columns: every field a batch item accepts that a cell can express, read by how the field
 * is stored (contact.fields.ts). Lists split on `;`. Objects (external references, connections, DND
 * settings) need JSON Lines. Anything else in a CSV header is refused.
 */
const CSV_COLUMNS: Record<string, (cell: string) => unknown> = Object.fromEntries([
  [NAME_FIELD.key, (cell: string) => cell],
  [COMPANY_NAME_FIELD.key, (cell: string) => cell],
  ...FIELD_LIST.filter((field) => field.input.matchUpsert !== undefined).flatMap(
    (field): Array<[string, (cell: string) => unknown]> => {
      if (field.key === 'emails') return [[field.key, (cell) => splitList(cell).map((address) => ({ address }))]];
      if (field.key === 'phones') return [[field.key, (cell) => splitList(cell).map((number) => ({ number }))]];
      switch (field.storage) {
        case 'text':
        case 'date':
          return [[field.key, (cell) => cell]];
        case 'boolean':
          return [[field.key, booleanCell]];
        case 'textArray':
          return [[field.key, splitList]];
        default:
          return [];
      }
    },
  ),
]);

export const CSV_COLUMN_NAMES: readonly string[] = Object.keys(CSV_COLUMNS);

/**
 * `custom.<key>` columns carry custom field values as text, which every type but multi_select reads
 * (numbers and booleans from their text too); a multi-select needs JSON Lines.
 */
const CUSTOM_COLUMN = new RegExp(`^custom\\.(${CUSTOM_FIELD_KEY_PATTERN.slice(1, -1)})$`, 'u');

export class ImportError extends Error {
  override name = 'ImportError';
}

/** A CSV row as the fields of an upsert: empty cells are left out, so a re-run never clears a field. */
function csvData(row: Record<string, string>, idColumn: string | null): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  const customFields: Record<string, string> = {};
  for (const [column, cell] of Object.entries(row)) {
    if (column === idColumn || cell.trim() === '') continue;
    const custom = CUSTOM_COLUMN.exec(column);
    if (custom !== null) customFields[custom[1] as string] = cell;
    else data[column] = (CSV_COLUMNS[column] as (cell: string) => unknown)(cell);
  }
  if (Object.keys(customFields).length > 0) data.customFields = customFields;
  return data;
}

function checkHeader(columns: string[], idColumn: string | null): void {
  const known = new Set([...CSV_COLUMN_NAMES, ...(idColumn ? [idColumn] : [])]);
  const unknown = columns.filter((column) => !known.has(column) && !CUSTOM_COLUMN.test(column));
  if (unknown.length > 0) {
    throw new ImportError(
      `unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((c) => `"${c}"`).join(', ')}; the columns are contact fields (${[...known].join(', ')}) and custom.<key> for custom fields`,
    );
  }
  if (idColumn !== null && !columns.includes(idColumn)) throw new ImportError(`the file has no column "${idColumn}"`);
}

interface SourceRow {
  line: number;
  item: unknown;
}

function toItem(line: number, data: Record<string, unknown>, id: unknown, namespace: string | null): SourceRow {
  const item: Record<string, unknown> = { ref: `line ${line}`, data };
  if (namespace !== null) item.externalRef = { namespace, id: typeof id === 'number' ? String(id) : id };
  return { line, item };
}

async function* csvRows(options: ImportOptions): AsyncGenerator<SourceRow> {
  const parser = fs.createReadStream(options.file).pipe(
    parse({
      columns: (header: string[]) => {
        checkHeader(header, options.idColumn);
        return header;
      },
      bom: true,
      info: true,
    }),
  );
  for await (const { record, info } of parser as AsyncIterable<{
    record: Record<string, string>;
    info: { lines: number };
  }>) {
    const id = options.idColumn === null ? undefined : record[options.idColumn];
    yield toItem(info.lines, csvData(record, options.idColumn), id, options.namespace);
  }
}

async function* jsonlRows(options: ImportOptions): AsyncGenerator<SourceRow> {
  const lines = readline.createInterface({
    input: fs.createReadStream(options.file),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let number = 0;
  for await (const text of lines) {
    number += 1;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      // Not JSON: an item that fails its validation, reported like any other failed row.
      yield { line: number, item: null };
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      yield { line: number, item: value };
      continue;
    }
    const { [options.idColumn ?? '']: id, ...data } = value as Record<string, unknown>;
    yield toItem(number, options.idColumn === null ? (value as Record<string, unknown>) : data, id, options.namespace);
  }
}

/** The lane of a row: by its external id, else its email or phone, so one key always lands in one lane. */
function laneOf(item: unknown, lanes: number): number {
  const row = item as { externalRef?: { id?: unknown }; data?: { email?: unknown; phone?: unknown } } | null;
  const email = typeof row?.data?.email === 'string' ? emailKey(row.data.email) : undefined;
  const key = String(row?.externalRef?.id ?? email ?? row?.data?.phone ?? '');
  let hash = 0;
  for (let index = 0; index < key.length; index += 1) hash = (hash * 31 + key.charCodeAt(index)) | 0;
  return Math.abs(hash) % lanes;
}

/** How many data rows the file has, for the progress bar's total (a quick byte scan). */
export async function countRows(file: string, format: 'csv' | 'jsonl'): Promise<number> {
  let lines = 0;
  let last = 10;
  for await (const chunk of fs.createReadStream(file) as AsyncIterable<Buffer>) {
    for (let index = chunk.indexOf(10); index !== -1; index = chunk.indexOf(10, index + 1)) lines += 1;
    last = chunk[chunk.length - 1] ?? last;
  }
  if (last !== 10) lines += 1;
  return format === 'csv' ? Math.max(0, lines - 1) : lines;
}

export async function importContacts(
  db: Db,
  context: OrganizationContext,
  sharedSchemas: Record<string, unknown>,
  options: ImportOptions,
): Promise<ImportReport> {
  if (options.batchSize < 1 || options.batchSize > MAX_BATCH_ITEMS) {
    throw new ImportError(`--batch-size must be from 1 to ${MAX_BATCH_ITEMS}`);
  }
  const validate = itemValidator(createValidatorCompiler(sharedSchemas), ContactBatchItem);
  // The batch's own defaults: match by email, revive deleted contacts, create what is missing.
  const handlers = contactBatchHandlers(context, { matchEmail: true, revive: true, updateOnly: false }, validate);
  const summary: BatchSummary = { total: 0, created: 0, updated: 0, revived: 0, unchanged: 0, failed: 0 };
  let failedOut: fs.WriteStream | null = null;
  const started = performance.now();

  const flush = async (rows: SourceRow[]) => {
    const { body } = await runBatch<ContactBatchItemInput>(
      db,
      rows.map((row) => row.item),
      { atomic: false, validateOnly: false },
      handlers,
      { instance: `import ${options.file}`, traceId: 'import' },
    );
    for (const key of Object.keys(summary) as Array<keyof BatchSummary>) summary[key] += body.summary[key];
    for (const result of body.results.filter((r: BatchResult) => r.problem !== null)) {
      const row = rows[result.index] as SourceRow;
      failedOut ??= fs.createWriteStream(options.failedFile);
      failedOut.write(
        `${JSON.stringify({ line: row.line, row: row.item, status: result.status, problem: result.problem })}\n`,
      );
    }
    options.onProgress?.(summary.total);
  };

  const rows = options.format === 'csv' ? csvRows(options) : jsonlRows(options);
  // Rows are spread over lanes by their key (the external id, else the email or phone), and each
  // lane writes its batches one at a time: rows of one key keep their file order, and lanes write
  // side by side. A failed write is kept and rethrown, never left as an unhandled rejection.
  const lanes = Array.from({ length: options.lanes }, () => ({
    pending: [] as SourceRow[],
    writing: Promise.resolve() as Promise<unknown>,
  }));
  const settle = async (lane: (typeof lanes)[number]) => {
    const outcome = await lane.writing;
    if (outcome instanceof Error) throw outcome;
  };
  const send = async (lane: (typeof lanes)[number]) => {
    const batch = lane.pending;
    lane.pending = [];
    await settle(lane);
    lane.writing = flush(batch).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
  };
  for await (const row of rows) {
    const lane = lanes[laneOf(row.item, options.lanes)] as (typeof lanes)[number];
    lane.pending.push(row);
    if (lane.pending.length === options.batchSize) await send(lane);
  }
  for (const lane of lanes) if (lane.pending.length > 0) await send(lane);
  for (const lane of lanes) await settle(lane);
  if (failedOut !== null) {
    const out: fs.WriteStream = failedOut;
    await new Promise<void>((resolve) => out.end(resolve));
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    rows: summary.total,
    summary,
    failedFile: summary.failed > 0 ? options.failedFile : null,
    // Two decimals, so that a short import's rows/s can be checked against them.
    seconds: Math.round(seconds * 100) / 100,
    rowsPerSecond: Math.round(summary.total / Math.max(seconds, 0.001)),
  };
}
