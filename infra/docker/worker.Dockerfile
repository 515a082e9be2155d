# syntax=docker/dockerfile:1
# settle-worker: build from the repository root,
#   docker build -f infra/docker/worker.Dockerfile -t settle-worker .
# Stages: build (all dependencies, tsc) → prod-deps (production dependencies only) → runtime
# (compiled JavaScript and production node_modules, non-root, no package manager, no sources).

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS base
# The package manager of package.json's packageManager, pinned; the runtime stage does without it.
RUN npm install --global --no-fund --no-audit pnpm@10.34.9 && pnpm config set store-dir /pnpm/store
WORKDIR /app
# The manifests alone first, so a change to the sources does not invalidate the install layers.
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json ./
COPY packages/client/package.json packages/client/
COPY packages/core/package.json packages/core/
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/

FROM base AS build
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store pnpm install --frozen-lockfile
COPY tsconfig.base.json turbo.json ./
COPY packages/client packages/client
COPY packages/core packages/core
COPY apps/worker apps/worker
RUN pnpm --filter @settle/client --filter @settle/core --filter @settle/worker run build

FROM base AS prod-deps
# Only @settle/worker and what it depends on (@settle/core, and @settle/client for the webhook
# signature), without devDependencies.
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store pnpm install --frozen-lockfile --prod --filter "@settle/worker..."

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# pnpm's node_modules are symlinks into /app/node_modules/.pnpm; each copy keeps them relative.
COPY --from=prod-deps /app/node_modules node_modules
COPY --from=prod-deps /app/packages/client/node_modules packages/client/node_modules
COPY --from=prod-deps /app/packages/core/node_modules packages/core/node_modules
COPY --from=prod-deps /app/apps/worker/node_modules apps/worker/node_modules
COPY --from=build /app/packages/client/package.json packages/client/
COPY --from=build /app/packages/client/dist packages/client/dist
COPY --from=build /app/packages/core/package.json packages/core/
COPY --from=build /app/packages/core/dist packages/core/dist
COPY --from=build /app/apps/worker/package.json apps/worker/
COPY --from=build /app/apps/worker/dist apps/worker/dist
# At start the worker refuses a database that lacks one of these (assertMigrated).
COPY infra/migrations infra/migrations
# Files stay root-owned (read-only to the process); it runs as the image's unprivileged user.
USER node
# The health and metrics port (GET /healthz, /readyz, /metrics); the worker answers nothing else.
ENV WORKER_METRICS_PORT=9464
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.WORKER_METRICS_PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself is PID 1's child under compose's init: true; SIGTERM drains in-flight work.
CMD ["node", "apps/worker/dist/main.js"]
