// JSON Schemas (TypeBox) of the users API: request validation, response serialization and the
// OpenAPI document all come from these. Objects reject unknown fields.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { PATTERN_DETAIL } from '../http/problem.js';

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

/** Characters a name may not contain: the C0 and C1 control characters (Unicode Cc). */
export const NAME_FORBIDDEN = '\\x00-\\x1f\\x7f-\\x9f';

/**
 * Characters a name may contain but that do not count as visible: the Basic Multilingual Plane's
 * whitespace (White_Space), format characters (Cf, e.g. the zero-width space U+200B and the
 * bidirectional controls) and other default-ignorable code points (variation selectors, Hangul
 * fillers, ...), except the controls above. Generated from Unicode 17 (Node 20's ICU); the unit
 * test checks it against \p{White_Space}, \p{Cf} and \p{Default_Ignorable_Code_Point}.
 *
 * Written as \xHH escapes and literal characters, not \p{...} or \uHHHH: ECMA-262 without the
 * `u` flag, PCRE, RE2 (Go), Python, Java and .NET all read the pattern the same way. Characters
 * outside the BMP count as visible, because no escape or class for them is portable.
 */
export const NAME_INVISIBLE =
  ' \\xa0\\xad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u115f-\u1160\u1680' +
  '\u17b4-\u17b5\u180b-\u180f\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\u3164\ufe00-\ufe0f' +
  '\ufeff\uffa0\ufff0-\ufffb';

/** Invisible characters, then one visible character, then anything but control characters. */
export const NAME_PATTERN = `^[${NAME_INVISIBLE}]*[^${NAME_FORBIDDEN}${NAME_INVISIBLE}][^${NAME_FORBIDDEN}]*$`;

const Name = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: NAME_PATTERN,
  [PATTERN_DETAIL]:
    'must contain a visible character (not only whitespace or invisible format characters ' +
    'such as U+200B) and no control characters',
  description:
    'display name; 1–200 characters, at least one of them visible (not whitespace, a format ' +
    'character such as U+200B or another default-ignorable character), no control characters',
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
