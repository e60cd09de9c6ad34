import { type Static, Type } from 'typebox';
import { BatchFlags, BatchItems } from '../http/batch.js';
import { ExternalRefSchema, Nullable, RefTo, Timestamp, Uuid } from '../http/schemas.js';

const ExternalRefs = Nullable(
  Type.Array(RefTo(ExternalRefSchema), {
    maxItems: 50,
    description: 'At most 50. Each namespace + id belongs to one company of the organization.',
  }),
);

const Name = Type.String({ minLength: 1, maxLength: 255 });
const Website = Nullable(
  Type.String({ maxLength: 500, format: 'uri', pattern: '^https?://', description: 'An http(s) URL.' }),
);

export const CreateCompanyBody = Type.Object(
  { name: Name, website: Type.Optional(Website), externalRefs: Type.Optional(ExternalRefs) },
  { $id: 'CreateCompanyRequest', additionalProperties: false },
);

export const PatchCompanyBody = Type.Object(
  { name: Type.Optional(Name), website: Type.Optional(Website), externalRefs: Type.Optional(ExternalRefs) },
  {
    $id: 'UpdateCompanyRequest',
    additionalProperties: false,
    description: 'Fields present are set, omitted fields are kept, null clears. externalRefs replaces the list.',
  },
);

export const UpsertCompanyBody = Type.Object(
  { name: Type.Optional(Name), website: Type.Optional(Website) },
  {
    $id: 'UpsertCompanyRequest',
    additionalProperties: false,
    description:
      'Creates the company (then `name` is required) or applies these fields to it (omitted fields are kept, null clears).',
  },
);

export const UpsertCompanyQuery = Type.Object(
  {
    revive: Type.Boolean({ default: true, description: 'Revive a deleted company that has this reference.' }),
    update_only: Type.Boolean({ default: false, description: 'Never create: an unknown reference answers 404.' }),
    validate_only: Type.Boolean({ default: false, description: 'Validate and decide, store nothing.' }),
  },
  { additionalProperties: false },
);
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
    externalRefs: Type.Array(Type.Ref('ExternalRef')),
    createdUtc: Timestamp,
    updatedUtc: Timestamp,
    deletedUtc: Nullable(Timestamp),
    etag: Type.String({ description: 'Equals the ETag header.' }),
  },
  { $id: 'Company', additionalProperties: false },
);
export type Company = Static<typeof CompanySchema>;

export const CompanyListSchema = Type.Object(
  { data: Type.Array(Type.Ref('Company')), page: Type.Ref('Page') },
  { $id: 'CompanyList', additionalProperties: false },
);

export const CompanyParams = Type.Object({ id: Uuid }, { additionalProperties: false });

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
  { $id: 'CompanyBatchRequest', additionalProperties: false },
);
