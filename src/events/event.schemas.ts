import { type Static, Type } from 'typebox';
import { QueryString, SystemName } from '../http/schemas.js';
import { EVENT_TYPES } from './event-types.js';

export const EventSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid', description: 'Unique; a webhook delivery carries it as `webhook-id`.' }),
    seq: Type.Integer({
      minimum: 1,
      description:
        "Position in your organization's log, increasing in commit order: once you have seen N, no new event at or below N appears.",
    }),
    type: Type.Unsafe<string>({ type: 'string', enum: EVENT_TYPES, description: '`<resource>.<change>`.' }),
    occurredUtc: Type.String({ format: 'date-time', description: "The change's time, as the record's `updatedUtc`." }),
    origin: Type.String({
      description:
        "Who made the change: the namespace of an upsert by external reference, else X-Change-Origin, else the token's origin, else `api`.",
    }),
    resourceId: Type.String({ format: 'uuid', description: 'The id of the contact or company that changed.' }),
    changedFields: Type.Array(Type.String(), {
      description:
        "The representation's fields whose value the change set (for a creation, every field it set); bookkeeping such as `etag` and `updatedUtc` is left out.",
    }),
    data: Type.Union([Type.Ref('Contact'), Type.Ref('Company')], {
      description: 'The record as it was right after the change.',
    }),
  },
  { $id: 'Event', additionalProperties: false, description: 'One committed change to a contact or a company.' },
);
export type Event = Static<typeof EventSchema>;

export const EventListSchema = Type.Object(
  {
    data: Type.Array(Type.Ref('Event')),
    page: Type.Object(
      {
        nextAfter: Type.Integer({
          minimum: 0,
          description: 'Pass as `after` for the next page; when `hasMore` is false, poll with it later.',
        }),
        hasMore: Type.Boolean({ description: 'Whether more events follow right now.' }),
      },
      { additionalProperties: false },
    ),
  },
  { $id: 'EventList', additionalProperties: false, description: 'A page of the event log.' },
);

export const EventListQuery = QueryString({
  after: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description:
        'Events after this `seq`. Absent: from the oldest event kept. Older than what retention keeps: 410, resynchronize.',
      examples: [2],
    }),
  ),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 100, description: 'Events per page.' }),
  types: Type.Optional(
    Type.String({
      maxLength: 500,
      description: `Comma-separated: ${EVENT_TYPES.join(', ')}, \`contact.*\`, \`company.*\` or \`*\` (the default). Each resource needs its read scope.`,
      examples: ['contact.*,company.created'],
    }),
  ),
  exclude_origin: Type.Optional(
    Type.Array(SystemName(), {
      maxItems: 20,
      description: 'Leave out changes of this origin (repeat the parameter for several): a sync skips its own writes.',
      examples: [['hubspot']],
    }),
  ),
});
export type EventListQueryInput = Static<typeof EventListQuery>;
