import { type Kysely, sql, type Transaction } from 'kysely';
import type { CustomFieldOptionJson, CustomFieldType, Database } from '../db/schema.js';

type Executor = Kysely<Database> | Transaction<Database>;

export interface CustomFieldDefinition {
  key: string;
  label: string;
  type: CustomFieldType;
  options: CustomFieldOptionJson[];
  archived: boolean;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** What a definition holds besides its key and type, which never change. */
export interface DefinitionValues {
  label: string;
  options: CustomFieldOptionJson[];
  archived: boolean;
}

const DEFINITION_COLUMNS = [
  'key',
  'label',
  'type',
  'options',
  'archived',
  'version',
  'created_at as createdAt',
  'updated_at as updatedAt',
] as const;

const now = sql<Date>`date_trunc('milliseconds', now())`;

export async function listDefinitions(db: Executor, organizationId: string): Promise<CustomFieldDefinition[]> {
  return db
    .selectFrom('contact_field_definitions')
    .select(DEFINITION_COLUMNS)
    .where('organization_id', '=', organizationId)
    .orderBy('created_at')
    .orderBy('key')
    .execute();
}

/**
 * FOR KEY SHARE on the named definitions (those that exist), in key order; returns them. A contact
 * write holds these while it validates and stores values, so a change of the definitions (which
 * locks FOR UPDATE) waits for it, and it for the change: values are always checked against the
 * definition that is committed with them. Key order keeps two writers from deadlocking.
 */
export async function lockDefinitions(
  trx: Transaction<Database>,
  organizationId: string,
  keys: readonly string[],
): Promise<CustomFieldDefinition[]> {
  if (keys.length === 0) return [];
  return trx
    .selectFrom('contact_field_definitions')
    .select(DEFINITION_COLUMNS)
    .where('organization_id', '=', organizationId)
    .where('key', 'in', [...new Set(keys)])
    .orderBy('key')
    .forKeyShare()
    .execute();
}

/**
 * With `lock`, FOR UPDATE: it conflicts with the FOR KEY SHARE of contact writes (lockDefinitions),
 * so contact writes that validated against the current definition commit before the change looks at
 * contacts' values, and later ones validate against the changed definition.
 */
export async function findDefinition(
  db: Executor,
  organizationId: string,
  key: string,
  options: { lock?: boolean } = {},
): Promise<CustomFieldDefinition | undefined> {
  let query = db
    .selectFrom('contact_field_definitions')
    .select(DEFINITION_COLUMNS)
    .where('organization_id', '=', organizationId)
    .where('key', '=', key);
  if (options.lock) query = query.forUpdate();
  return query.executeTakeFirst();
}

/**
 * Makes concurrent creations in one organization take turns, so that counting and inserting cannot
 * interleave and overshoot the limit; other organizations are not held up.
 */
export async function lockOrganizationDefinitions(trx: Transaction<Database>, organizationId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`contacts-api:contact-fields:${organizationId}`}, 0))`.execute(
    trx,
  );
}

export async function countDefinitions(trx: Transaction<Database>, organizationId: string): Promise<number> {
  const row = await trx
    .selectFrom('contact_field_definitions')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('organization_id', '=', organizationId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The new definition, or undefined when the organization already has one with this key. */
export async function insertDefinition(
  trx: Transaction<Database>,
  organizationId: string,
  key: string,
  type: CustomFieldType,
  values: DefinitionValues,
): Promise<CustomFieldDefinition | undefined> {
  // The primary key arbitrates; DO NOTHING leaves the transaction usable, unlike a caught violation.
  return trx
    .insertInto('contact_field_definitions')
    .values({
      organization_id: organizationId,
      key,
      type,
      label: values.label,
      options: JSON.stringify(values.options),
      archived: values.archived,
      version: 1,
    })
    .onConflict((conflict) => conflict.columns(['organization_id', 'key']).doNothing())
    .returning(DEFINITION_COLUMNS)
    .executeTakeFirst();
}

export async function updateDefinition(
  trx: Transaction<Database>,
  organizationId: string,
  key: string,
  values: DefinitionValues,
): Promise<CustomFieldDefinition> {
  return trx
    .updateTable('contact_field_definitions')
    .set({
      label: values.label,
      options: JSON.stringify(values.options),
      archived: values.archived,
      version: sql`version + 1`,
      updated_at: now,
    })
    .where('organization_id', '=', organizationId)
    .where('key', '=', key)
    .returning(DEFINITION_COLUMNS)
    .executeTakeFirstOrThrow();
}

export async function deleteDefinition(trx: Transaction<Database>, organizationId: string, key: string): Promise<void> {
  await trx
    .deleteFrom('contact_field_definitions')
    .where('organization_id', '=', organizationId)
    .where('key', '=', key)
    .execute();
}

/**
 * The contacts that may hold a value under `key`, from the search terms (migration 0012) rather
 * than a scan of the organization's contacts: those listed with a term of the key (`term` or the
 * range of every `c:<key>=…` term), and every contact with an event still waiting in the outbox,
 * whose terms may not be listed yet. Callers hold the definition locked against writers of the
 * key, so a contact holding a value now is in one of the two. Candidates only: callers test the
 * contact's row.
 */
function candidateContacts(organizationId: string, key: string, values: readonly string[] | null) {
  // Keys are [a-z0-9_]; '>' follows '=' in byte order, so [c:key=, c:key>) is every value's term.
  const listed =
    values === null
      ? sql`s.term >= ${`c:${key}=`} AND s.term < ${`c:${key}>`}`
      : sql`s.term = ANY (contact_search_terms(${JSON.stringify({ custom_fields: { [key]: values } })}::jsonb))`;
  return sql`
    SELECT s.contact_id FROM contact_search_terms s WHERE s.organization_id = ${organizationId} AND ${listed}
    UNION
    SELECT o.resource_id FROM event_outbox o WHERE o.organization_id = ${organizationId} AND o.resource_type = 'contact'
  `;
}

/** Whether any contact of the organization, deleted ones included, has a value under `key`. */
export async function contactsHoldValues(db: Executor, organizationId: string, key: string): Promise<boolean> {
  const { rows } = await sql<{ held: boolean }>`
    SELECT EXISTS (
      SELECT 1 FROM contacts c
      WHERE c.organization_id = ${organizationId} AND c.custom_fields ? ${key}
        AND c.id IN (${candidateContacts(organizationId, key, null)})
    ) AS held
  `.execute(db);
  return rows[0]?.held ?? false;
}

/**
 * Which of `values` some contact (deleted ones included) holds under `key`, in the order given.
 * Reads both stored forms: a single_select's string and a multi_select's array of strings.
 */
export async function findHeldOptionValues(
  db: Executor,
  organizationId: string,
  key: string,
  values: readonly string[],
): Promise<string[]> {
  if (values.length === 0) return [];
  const wanted = [...values];
  const { rows } = await sql<{ value: string }>`
    SELECT DISTINCT held.value, array_position(${wanted}::text[], held.value) AS position
    FROM contacts c
    CROSS JOIN LATERAL jsonb_array_elements_text(
      CASE jsonb_typeof(c.custom_fields -> ${key})
        WHEN 'array' THEN c.custom_fields -> ${key}
        ELSE jsonb_build_array(c.custom_fields -> ${key})
      END
    ) AS held(value)
    WHERE c.organization_id = ${organizationId} AND c.custom_fields ? ${key}
      AND c.id IN (${candidateContacts(organizationId, key, wanted)})
      AND held.value = ANY(${wanted}::text[])
    ORDER BY position
  `.execute(db);
  return rows.map((row) => row.value);
}
