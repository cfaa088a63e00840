// Business rules of the users resource, independent of HTTP and of the storage backend.
import { decodeCursor, encodeCursor } from './cursor.js';
import { EmailTakenError, UserNotFoundError } from './errors.js';
import { UniqueViolationError } from './repository.js';
import type { NewUser, User, UserChanges, UserRepository } from './repository.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './schemas.js';

export interface UserPage {
  readonly items: User[];
  readonly nextCursor: string | null;
}

export interface PageRequest {
  readonly limit?: number;
  readonly cursor?: string;
}

function normalize<T extends UserChanges>(input: T): T {
  return {
    ...input,
    ...(input.name !== undefined && { name: input.name.trim() }),
    ...(input.email !== undefined && { email: input.email.trim() }),
  };
}

export class UserService {
  private readonly repo: UserRepository;

  constructor(repo: UserRepository) {
    this.repo = repo;
  }

  private async uniqueEmail<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (err instanceof UniqueViolationError) throw new EmailTakenError();
      throw err;
    }
  }

  create(input: NewUser): Promise<User> {
    return this.uniqueEmail(() => this.repo.create(normalize(input)));
  }

  async get(id: number): Promise<User> {
    const user = await this.repo.get(id);
    if (user === undefined) throw new UserNotFoundError(id);
    return user;
  }

  async list(req: PageRequest = {}): Promise<UserPage> {
    const limit = Math.min(Math.max(req.limit ?? DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE);
    const afterId = req.cursor === undefined ? undefined : decodeCursor(req.cursor);
    const rows = await this.repo.list({ afterId, limit: limit + 1 });
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    const nextCursor = rows.length > limit && last !== undefined ? encodeCursor(last.id) : null;
    return { items, nextCursor };
  }

  async update(id: number, changes: UserChanges): Promise<User> {
    const user = await this.uniqueEmail(() => this.repo.update(id, normalize(changes)));
    if (user === undefined) throw new UserNotFoundError(id);
    return user;
  }

  async delete(id: number): Promise<void> {
    if (!(await this.repo.delete(id))) throw new UserNotFoundError(id);
  }

  ping(): Promise<void> {
    return this.repo.ping();
  }
}
