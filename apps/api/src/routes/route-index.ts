/** What a route index needs of an entry: its method and its path in Express form (`/accounts/:id`). */
export interface Routable {
  method: string;
  path: string;
}

export interface RouteMatch<T> {
  route: T;
  /** The path's parameters, percent-decoded (a segment that does not decode is passed as sent). */
  params: Record<string, string>;
}

interface ParamEntry<T> {
  method: string;
  /** Each segment's literal text in lower case, or null where the path has a parameter. */
  segments: (string | null)[];
  names: string[];
  route: T;
}

/**
 * Finds the entry of a route table that serves a request, as Express's router would (paths match
 * in any letter case, with or without one trailing slash; HEAD is served by GET), in one map look-up
 * for a path without parameters and a segment comparison for one with them. Express's router tries
 * each layer's regular expression in turn and leaves each nested router through `setImmediate`: per
 * request that walk was a tenth of the API's CPU.
 */
export class RouteIndex<T extends Routable> {
  /** Paths without parameters, in lower case, each with its entry per method. */
  private readonly exact = new Map<string, Map<string, T>>();
  private readonly withParams: ParamEntry<T>[] = [];

  constructor(routes: readonly T[]) {
    for (const route of routes) {
      const method = route.method.toLowerCase();
      const segments = normalise(route.path).split("/");
      if (!route.path.includes(":")) {
        const path = segments.join("/").toLowerCase();
        const methods = this.exact.get(path) ?? new Map<string, T>();
        // In table order, as Express tries its layers: an earlier entry with parameters must not match it.
        if (methods.has(method) || this.matchParams(method, segments) !== undefined)
          throw new Error(`route ${route.method} ${route.path} is served by an earlier entry`);
        this.exact.set(path, methods.set(method, route));
        continue;
      }
      this.withParams.push({
        method,
        segments: segments.map((s) => (s.startsWith(":") ? null : s.toLowerCase())),
        names: segments.filter((s) => s.startsWith(":")).map((s) => s.slice(1)),
        route,
      });
    }
  }

  /** The entry serving `method` at `path` (a path without its query string), if any. */
  match(method: string, path: string): RouteMatch<T> | undefined {
    const m = method.toLowerCase();
    return this.find(m, path) ?? (m === "head" ? this.find("get", path) : undefined);
  }

  /** The methods served at `path`, for an OPTIONS answer's `Allow` (HEAD wherever GET is). */
  methodsAt(path: string): string[] {
    const normal = normalise(path);
    const methods = new Set(this.exact.get(normal.toLowerCase())?.keys());
    const segments = normal.split("/");
    for (const entry of this.withParams) if (paramsOf(entry, segments)) methods.add(entry.method);
    if (methods.has("get")) methods.add("head");
    return [...methods].map((x) => x.toUpperCase()).sort();
  }

  private find(method: string, path: string): RouteMatch<T> | undefined {
    const normal = normalise(path);
    const route = this.exact.get(normal.toLowerCase())?.get(method);
    if (route) return { route, params: {} };
    return this.matchParams(method, normal.split("/"));
  }

  private matchParams(method: string, segments: string[]): RouteMatch<T> | undefined {
    for (const entry of this.withParams) {
      if (entry.method !== method) continue;
      const params = paramsOf(entry, segments);
      if (params) return { route: entry.route, params };
    }
    return undefined;
  }
}

/** One trailing slash is no different from none (Express's non-strict routing). */
function normalise(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

function paramsOf<T>(entry: ParamEntry<T>, segments: string[]): Record<string, string> | undefined {
  if (segments.length !== entry.segments.length) return undefined;
  const values: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const literal = entry.segments[i];
    const segment = segments[i]!;
    if (literal === null) {
      if (segment === "") return undefined;
      values.push(segment);
    } else if (segment.toLowerCase() !== literal) return undefined;
  }
  const params: Record<string, string> = {};
  entry.names.forEach((name, i) => (params[name] = decode(values[i]!)));
  return params;
}

function decode(segment: string): string {
  if (!segment.includes("%")) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
