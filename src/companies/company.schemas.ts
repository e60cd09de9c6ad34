import { type Static, Type } from 'typebox';
import { BatchFlags, BatchItems } from '../http/batch.js';
import { bodyExamples, ExternalRefSchema, Nullable, QueryString, RefTo, Timestamp, Uuid } from '../http/schemas.js';
import {
  companyBatchExamples,
  createCompanyExamples,
  updateCompanyExamples,
  upsertCompanyExamples,
} from './company.examples.js';

const ExternalRefs = Nullable(
  Type.Array(RefTo(ExternalRefSchema), {
    maxItems: 50,
    description: 'At most 50. Each namespace + id belongs to one company of the organization.',
  }),
);

const Name = Type.String({ minLength: 1, maxLength: 255, description: "The company's name." });
const Website = Nullable(
  Type.String({ maxLength: 500, format: 'uri', pattern: '^https?://', description: 'An http(s) URL.' }),
);

export const CreateCompanyBody = Type.Object(
  { name: Name, website: Type.Optional(Website), externalRefs: Type.Optional(ExternalRefs) },
  {
    $id: 'CreateCompanyRequest',
    additionalProperties: false,
    description: 'A new company; `name` is required.',
    ...bodyExamples(createCompanyExamples),
  },
);

export const PatchCompanyBody = Type.Object(
  { name: Type.Optional(Name), website: Type.Optional(Website), externalRefs: Type.Optional(ExternalRefs) },
  {
    $id: 'UpdateCompanyRequest',
    additionalProperties: false,
    description: 'Fields present are set, omitted fields are kept, null clears. externalRefs replaces the list.',
    ...bodyExamples(updateCompanyExamples),
  },
);

const upsertProperties = { name: Type.Optional(Name), website: Type.Optional(Website) };
const UPSERT_DESCRIPTION =
  'Creates the company (then `name` is required) or applies these fields to it (omitted fields are kept, null clears).';

/** Shared: the body of the upsert by reference is also the `data` of a batch item. */
export const UpsertCompanyBody = Type.Object(upsertProperties, {
  $id: 'UpsertCompanyRequest',
  additionalProperties: false,
  description: UPSERT_DESCRIPTION,
});

/** The upsert route's own copy of the shared body, which can carry the route's examples. */
export const UpsertCompanyRequestBody = Type.Object(upsertProperties, {
  additionalProperties: false,
  description: UPSERT_DESCRIPTION,
  ...bodyExamples(upsertCompanyExamples),
});

export const UpsertCompanyQuery = QueryString({
  revive: Type.Boolean({ default: true, description: 'Revive a deleted company that has this reference.' }),
  update_only: Type.Boolean({ default: false, description: 'Never create: an unknown reference answers 404.' }),
  validate_only: Type.Boolean({ default: false, description: 'Validate and decide, store nothing.' }),
});
export type UpsertCompanyQueryInput = Static<typeof UpsertCompanyQuery>;

export interface CompanyInput {
  name?: string;
  website?: string | null;
  externalRefs?: Array<{ namespace: string; id: string }> | null;
}

export const CompanySchema = Type.Object(
  {
    id: Uuid,
    uri: Type.String({ description: "The company's canonical API path." }),
    name: Type.String(),
    website: Nullable(Type.String()),
    externalRefs: Type.Array(Type.Ref('ExternalRef'), { description: 'Its references in other systems.' }),
    createdUtc: Timestamp,
    updatedUtc: Timestamp,
    deletedUtc: Nullable(Timestamp),
    etag: Type.String({ description: 'Equals the ETag header.' }),
  },
  { $id: 'Company', additionalProperties: false, description: 'A company that contacts work at.' },
);
export type Company = Static<typeof CompanySchema>;

export const CompanyListSchema = Type.Object(
  { data: Type.Array(Type.Ref('Company')), page: Type.Ref('Page') },
  { $id: 'CompanyList', additionalProperties: false, description: 'A page of the company change feed.' },
);

export const CompanyParams = Type.Object(
  {
    id: Type.String({
      format: 'uuid',
      description: "The company's id.",
      examples: ['14e31e96-4c3b-45b3-8cef-aebb2e98bcdc'],
    }),
  },
  { additionalProperties: false },
);

export const CompanyBatchItem = Type.Object(
  {
    ref: Type.Optional(
      Type.String({ maxLength: 100, description: 'Your correlation for this item; echoed in its result.' }),
    ),
    externalRef: RefTo(ExternalRefSchema),
    ifMatch: Type.Optional(
      Type.String({ minLength: 1, maxLength: 1000, description: 'As If-Match, for this item alone.' }),
    ),
    data: RefTo(UpsertCompanyBody),
  },
  { additionalProperties: false, description: 'As PATCH /companies/external/{namespace}/{id}.' },
);
export type CompanyBatchItemInput = Static<typeof CompanyBatchItem>;

export const CompanyBatchBody = Type.Object(
  { items: BatchItems(CompanyBatchItem), ...BatchFlags },
  { $id: 'CompanyBatchRequest', additionalProperties: false, ...bodyExamples(companyBatchExamples) },
);
