// Every route declares its kind in its config: 'api' routes serve the business API and may be
// faulted; 'ops' routes (probes, metrics, version, OpenAPI) never are and log at debug level.
export type RouteKind = 'api' | 'ops';

declare module 'fastify' {
  interface FastifyContextConfig {
    kind?: RouteKind;
  }
}
