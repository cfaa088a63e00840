// Build metadata for /version. Per field, first found wins:
//   env BUILD_VERSION / BUILD_GIT_SHA / BUILD_TIME  >  build-info.json next to the compiled code
//   (dist/build-info.json, written by the build)  >  package.json version, "unknown".
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { ALWAYS_POSSIBLE, problemResponses } from '../http/problem.js';

export interface BuildInfo {
  readonly version: string;
  readonly gitSha: string;
  readonly buildTime: string;
}

export const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

export interface BuildInfoSources {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly buildInfoFile?: URL | string;
  readonly packageJsonFile?: URL | string;
}

export interface LoadedBuildInfo {
  readonly info: BuildInfo;
  readonly warnings: string[];
}

function readJson(file: URL | string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return typeof parsed === 'object' && parsed !== null
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

export function loadBuildInfo(sources: BuildInfoSources = {}): LoadedBuildInfo {
  const env = sources.env ?? process.env;
  const file = readJson(sources.buildInfoFile ?? new URL('../build-info.json', import.meta.url));
  const pkg = readJson(sources.packageJsonFile ?? new URL('../../package.json', import.meta.url));
  const warnings: string[] = [];
  let version = str(env.BUILD_VERSION) ?? str(file?.version) ?? str(pkg?.version) ?? '0.0.0';
  if (!SEMVER.test(version)) {
    warnings.push(`build version "${version}" is not semantic versioning; reporting 0.0.0`);
    version = '0.0.0';
  }
  return {
    info: {
      version,
      gitSha: str(env.BUILD_GIT_SHA) ?? str(file?.gitSha) ?? 'unknown',
      buildTime: str(env.BUILD_TIME) ?? str(file?.buildTime) ?? 'unknown',
    },
    warnings,
  };
}

export function registerVersionRoute(app: FastifyInstance, info: BuildInfo): void {
  app.get(
    '/version',
    {
      config: { kind: 'ops' },
      schema: {
        tags: ['ops'],
        operationId: 'version',
        summary: 'Build metadata: semantic version, git commit and build time',
        response: {
          200: Type.Object(
            { version: Type.String(), gitSha: Type.String(), buildTime: Type.String() },
            { additionalProperties: false },
          ),
          ...problemResponses(ALWAYS_POSSIBLE),
        },
      },
    },
    () => info,
  );
}
