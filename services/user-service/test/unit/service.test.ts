import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EmailTakenError, UserNotFoundError, mapUserErrors } from '../../src/users/errors.js';
import { UniqueViolationError, emailKey } from '../../src/users/repository.js';
import type {
  ListOptions,
  NewUser,
  User,
  UserChanges,
  UserRepository,
} from '../../src/users/repository.js';
import { UserService } from '../../src/users/service.js';
import { InvalidCursorError } from '../../src/users/errors.js';

/** In-memory fake with the same unique-email rule as the real backends. */
class FakeRepository implements UserRepository {
  readonly kind = 'sqlite';
  private readonly users = new Map<number, User>();
  private next = 1;

  private taken(email: string, except?: number): boolean {
    return [...this.users.values()].some(
      (u) => u.id !== except && emailKey(u.email) === emailKey(email),
    );
  }

  create(user: NewUser): Promise<User> {
    if (this.taken(user.email)) return Promise.reject(new UniqueViolationError('email'));
    const now = new Date().toISOString();
    const created = { id: this.next++, ...user, createdAt: now, updatedAt: now };
    this.users.set(created.id, created);
    return Promise.resolve(created);
  }
  get(id: number): Promise<User | undefined> {
    return Promise.resolve(this.users.get(id));
  }
  list(opts: ListOptions): Promise<User[]> {
    const all = [...this.users.values()].filter((u) => u.id > (opts.afterId ?? 0));
    return Promise.resolve(all.slice(0, opts.limit));
  }
  update(id: number, changes: UserChanges): Promise<User | undefined> {
    const u = this.users.get(id);
    if (u === undefined) return Promise.resolve(undefined);
    if (changes.email !== undefined && this.taken(changes.email, id)) {
      return Promise.reject(new UniqueViolationError('email'));
    }
    const updated = { ...u, ...changes, updatedAt: new Date().toISOString() };
    this.users.set(id, updated);
    return Promise.resolve(updated);
  }
  delete(id: number): Promise<boolean> {
    return Promise.resolve(this.users.delete(id));
  }
  ping(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('UserService', () => {
  test('a duplicate email, in any case, is an EmailTakenError (→ 409)', async () => {
    const svc = new UserService(new FakeRepository());
    await svc.create({ name: 'A', email: 'a@example.com' });
    const err = await svc.create({ name: 'B', email: 'A@EXAMPLE.com' }).catch((e: unknown) => e);
    assert.ok(err instanceof EmailTakenError);
    assert.equal(mapUserErrors(err)?.status, 409);
  });

  test('updating to a taken email is an EmailTakenError', async () => {
    const svc = new UserService(new FakeRepository());
    await svc.create({ name: 'A', email: 'a@example.com' });
    const b = await svc.create({ name: 'B', email: 'b@example.com' });
    await assert.rejects(svc.update(b.id, { email: 'a@example.com' }), EmailTakenError);
  });

  test('other repository errors pass through untouched', async () => {
    const repo = new FakeRepository();
    const boom = new Error('disk on fire');
    repo.create = () => Promise.reject(boom);
    await assert.rejects(new UserService(repo).create({ name: 'A', email: 'a@b.co' }), boom);
  });

  test('missing users are UserNotFoundError (→ 404) for get, update and delete', async () => {
    const svc = new UserService(new FakeRepository());
    await assert.rejects(svc.get(7), UserNotFoundError);
    await assert.rejects(svc.update(7, { name: 'x' }), UserNotFoundError);
    await assert.rejects(svc.delete(7), UserNotFoundError);
    const err = await svc.get(7).catch((e: unknown) => e);
    assert.equal(mapUserErrors(err)?.status, 404);
  });

  test('names and emails are trimmed', async () => {
    const svc = new UserService(new FakeRepository());
    const u = await svc.create({ name: '  Ada  ', email: ' ada@example.com ' });
    assert.deepEqual([u.name, u.email], ['Ada', 'ada@example.com']);
  });

  test('list pages with a cursor and clamps the limit', async () => {
    const svc = new UserService(new FakeRepository());
    for (let i = 0; i < 5; i++) await svc.create({ name: `u${i}`, email: `u${i}@example.com` });
    const p1 = await svc.list({ limit: 2 });
    assert.deepEqual(
      p1.items.map((u) => u.id),
      [1, 2],
    );
    assert.ok(p1.nextCursor);
    const p2 = await svc.list({ limit: 2, cursor: p1.nextCursor });
    assert.deepEqual(
      p2.items.map((u) => u.id),
      [3, 4],
    );
    const p3 = await svc.list({ limit: 2, cursor: p2.nextCursor! });
    assert.deepEqual(
      p3.items.map((u) => u.id),
      [5],
    );
    assert.equal(p3.nextCursor, null);
    assert.equal((await svc.list({ limit: 1000 })).items.length, 5);
    await assert.rejects(svc.list({ cursor: 'nonsense' }), InvalidCursorError);
    assert.equal(mapUserErrors(new InvalidCursorError('x'))?.status, 400);
  });
});
