import type { Express } from "express";

export interface ServedRoute {
  method: string;
  path: string;
}

// The router's layers, as much of them as the walk needs (Express 5 / router 2 keep `rawPath`).
interface Layer {
  rawPath?: string | string[];
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[]; served?: readonly ServedRoute[] };
}

const join = (prefix: string, path: string): string => (prefix + (path === "/" && prefix ? "" : path)).replace(/\/{2,}/g, "/") || "/";

function walk(stack: Layer[], prefix: string, out: ServedRoute[], stopAt: (path: string) => boolean): void {
  for (const layer of stack) {
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      for (const path of paths) {
        for (const method of Object.keys(layer.route.methods)) if (method !== "_all") out.push({ method, path: join(prefix, path) });
      }
    } else if (layer.handle?.stack || layer.handle?.served) {
      const mounts = layer.rawPath === undefined ? ["/"] : Array.isArray(layer.rawPath) ? layer.rawPath : [layer.rawPath];
      for (const mount of mounts) {
        const next = join(prefix, mount);
        if (stopAt(next)) continue;
        const base = next === "/" ? "" : next;
        if (layer.handle.stack) walk(layer.handle.stack, base, out, stopAt);
        // The route table's middleware (routes/router.ts) says what it serves.
        for (const route of layer.handle.served ?? []) out.push({ method: route.method, path: join(base, route.path) });
      }
    }
  }
}

/**
 * Every (method, path) the app's routers answer, found by walking Express's router stack (and
 * asking the route table's middleware, which is not an Express router, what it serves).
 * Sub-routers mounted under a path for which `stopAt` is true are not entered (a UI with its own routes).
 */
export function listServedRoutes(app: Express, stopAt: (path: string) => boolean = () => false): ServedRoute[] {
  const out: ServedRoute[] = [];
  const router = (app as unknown as { router: { stack: Layer[] } }).router;
  walk(router.stack, "", out, stopAt);
  return out;
}
