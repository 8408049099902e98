# Bookstore API image on Node.js 24 LTS: `docker build -t bookstore .` then
#   docker run --init -p 3000:3000 -e JWT_SECRET="$(openssl rand -base64 48)" bookstore
# scripts/dockerfile-check.sh runs this file's commands as written, without a Docker engine.
# RUN lines use paths relative to WORKDIR (the check runs them in a stand-in folder).

# ---- build: install everything, compile TypeScript, then drop the dev dependencies ----
FROM node:24-bookworm-slim AS build
WORKDIR /app

# better-sqlite3 downloads a prebuilt binary; when it cannot, node-gyp compiles it from
# source and needs these. The slim image has none of them.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*

# Manifests first, so the dependency layer is reused until they change. npm ci also runs
# package.json's `prepare` (the build for a fresh clone), which skips itself here where no
# tsconfig.build.json is copied yet: the build is the explicit `npm run build` below.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# Exactly what tsconfig.build.json compiles (one COPY per folder: COPY copies a folder's
# contents, so several folders in one COPY would be flattened together).
COPY tsconfig*.json ./
COPY config ./config
COPY src ./src
COPY plugins ./plugins
COPY routes ./routes
COPY scripts ./scripts
RUN npm run build \
  && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: production dependencies, compiled code and the files read at run time ----
FROM node:24-bookworm-slim AS runtime
# HOST=0.0.0.0: config/default.yml listens on 127.0.0.1, unreachable from outside a container.
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app

# Code and dependencies stay root-owned: the service cannot rewrite itself.
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# package.json marks the project root (config/paths.ts); default.yml is the embedded config.
COPY package.json ./
# Read at run time: the embedded config and the breached-password list (config/breached-passwords.ts).
COPY config/default.yml config/common-passwords.txt ./config/
# Read by `node dist/scripts/seed.js` (the sample catalogue).
COPY scripts/seed-catalogue.json ./scripts/
# Read at start-up in production: its placeholder secrets are refused (config/load.ts), and a
# missing file stops the start rather than skip that check.
COPY .env.example ./
COPY deploy/mysql.env.example ./deploy/

# The default DATABASE_URL (sqlite:./data/bookstore.db) writes here, so the node user owns
# the folder. Declared after every change to it: later build steps would be discarded.
RUN mkdir -p data && chown node:node data
VOLUME /app/data

USER node
EXPOSE 3000

# Readiness of every configured backend, with node's global fetch (no curl in slim).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# node itself is PID 1 (not `npm start`, which would add npm and its build check and not pass
# signals on): close-with-grace turns SIGTERM into a graceful fastify.close(). PID 1 does not reap
# orphaned children; the service spawns none, but `docker run --init` or compose's
# `init: true` adds a tiny init that does. The V8 flags are `npm start`'s (docs/PERFORMANCE.md):
# --max-semi-space-size=8 (MiB): the young generation grows to 2 x 16 MiB under load by default,
# and request garbage dies young either way; --heap-growing-percent=20: a traced request lives
# long enough to be promoted, and by default V8 lets the old generation grow several times
# over, mostly garbage, before it collects it: collected sooner, the peak stays inside the
# memory budget.
CMD ["node", "--max-semi-space-size=8", "--heap-growing-percent=20", "dist/src/server.js"]
