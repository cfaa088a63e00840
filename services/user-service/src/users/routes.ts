// HTTP routes of the users resource under /api/users. Thin: validate (by schema), call the
// service, shape the response. Errors thrown by the service are mapped by mapUserErrors.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { API_ROUTE_ERRORS, problemResponses } from '../http/problem.js';
import {
  CreateUserBody,
  ListUsersQuery,
  PatchUserBody,
  ReplaceUserBody,
  UserIdParams,
  UserPageSchema,
  UserSchema,
} from './schemas.js';
import type { UserService } from './service.js';

export interface UserRoutesOptions {
  readonly service: UserService;
}

const tags = ['users'];

export const userRoutes: FastifyPluginAsyncTypebox<UserRoutesOptions> = (app, opts) => {
  const { service } = opts;
  const config = { kind: 'api' } as const;

  app.post(
    '',
    {
      config,
      schema: {
        tags,
        operationId: 'createUser',
        summary: 'Create a user',
        body: CreateUserBody,
        response: {
          201: { ...UserSchema, description: 'the created user; Location names it' },
          ...problemResponses(400, 409, 413, 415, API_ROUTE_ERRORS),
        },
      },
    },
    async (request, reply) => {
      const user = await service.create(request.body);
      return reply.code(201).header('location', `${app.prefix}/${user.id}`).send(user);
    },
  );

  app.get(
    '',
    {
      config,
      schema: {
        tags,
        operationId: 'listUsers',
        summary: 'List users, oldest first, one page at a time',
        querystring: ListUsersQuery,
        response: {
          200: { ...UserPageSchema, description: 'one page of users' },
          ...problemResponses(400, API_ROUTE_ERRORS),
        },
      },
    },
    (request) => service.list(request.query),
  );

  app.get(
    '/:id',
    {
      config,
      schema: {
        tags,
        operationId: 'getUser',
        summary: 'Get a user by id',
        params: UserIdParams,
        response: {
          200: { ...UserSchema, description: 'the user' },
          ...problemResponses(400, 404, 414, API_ROUTE_ERRORS),
        },
      },
    },
    (request) => service.get(Number(request.params.id)),
  );

  app.patch(
    '/:id',
    {
      config,
      schema: {
        tags,
        operationId: 'patchUser',
        summary: 'Change some fields of a user',
        params: UserIdParams,
        body: PatchUserBody,
        response: {
          200: { ...UserSchema, description: 'the user' },
          ...problemResponses(400, 404, 409, 413, 414, 415, API_ROUTE_ERRORS),
        },
      },
    },
    (request) => service.update(Number(request.params.id), request.body),
  );

  app.put(
    '/:id',
    {
      config,
      schema: {
        tags,
        operationId: 'replaceUser',
        summary: 'Replace all fields of a user',
        params: UserIdParams,
        body: ReplaceUserBody,
        response: {
          200: { ...UserSchema, description: 'the user' },
          ...problemResponses(400, 404, 409, 413, 414, 415, API_ROUTE_ERRORS),
        },
      },
    },
    (request) => service.update(Number(request.params.id), request.body),
  );

  app.delete(
    '/:id',
    {
      config,
      schema: {
        tags,
        operationId: 'deleteUser',
        summary: 'Delete a user',
        params: UserIdParams,
        response: {
          204: Type.Null({ description: 'deleted' }),
          // DELETE may carry a body (ignored, but read and parsed like any other): 413, 415.
          ...problemResponses(400, 404, 413, 414, 415, API_ROUTE_ERRORS),
        },
      },
    },
    async (request, reply) => {
      await service.delete(Number(request.params.id));
      return reply.code(204).send(null);
    },
  );
  return Promise.resolve();
};
