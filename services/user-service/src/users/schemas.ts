// JSON Schemas (TypeBox) of the users API: request validation, response serialization and the
// OpenAPI document all come from these. Objects reject unknown fields.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

/** Positive integer ids, as decimal strings in paths (at most 15 digits: safe in JS numbers). */
export const UserIdParams = Type.Object(
  {
    id: Type.String({
      pattern: '^[1-9][0-9]{0,14}$',
      description: 'user id: a positive integer',
      examples: ['42'],
    }),
  },
  { additionalProperties: false },
);
export type UserIdParams = Static<typeof UserIdParams>;

// One visible character at least, no control characters.
const Name = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: '^[^\\p{Cc}]*[^\\p{Cc}\\s][^\\p{Cc}]*$',
  description: 'display name; 1–200 characters, no control characters',
  examples: ['Ada Lovelace'],
});

const Email = Type.String({
  format: 'email',
  maxLength: 254,
  description: 'email address; unique, compared case-insensitively',
  examples: ['ada@example.com'],
});

export const CreateUserBody = Type.Object(
  { name: Name, email: Email },
  { additionalProperties: false, title: 'CreateUser' },
);
export type CreateUserBody = Static<typeof CreateUserBody>;

export const ReplaceUserBody = Type.Object(
  { name: Name, email: Email },
  { additionalProperties: false, title: 'ReplaceUser' },
);
export type ReplaceUserBody = Static<typeof ReplaceUserBody>;

export const PatchUserBody = Type.Object(
  { name: Type.Optional(Name), email: Type.Optional(Email) },
  { additionalProperties: false, minProperties: 1, title: 'PatchUser' },
);
export type PatchUserBody = Static<typeof PatchUserBody>;

export const UserSchema = Type.Object(
  {
    id: Type.Integer({ minimum: 1 }),
    name: Type.String(),
    email: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false, title: 'User' },
);

export const ListUsersQuery = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_PAGE_SIZE,
        default: DEFAULT_PAGE_SIZE,
        description: `page size, 1–${MAX_PAGE_SIZE}`,
      }),
    ),
    cursor: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        pattern: '^[A-Za-z0-9_-]+$',
        description: 'opaque: the nextCursor of the previous page',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ListUsersQuery = Static<typeof ListUsersQuery>;

export const UserPageSchema = Type.Object(
  {
    items: Type.Array(UserSchema),
    nextCursor: Type.Unsafe<string | null>({
      type: ['string', 'null'],
      description: 'cursor of the next page; null on the last page',
    }),
  },
  { additionalProperties: false, title: 'UserPage' },
);
