# One image for the operator's controller (`controller`) and its retention runs (`sweep`, in the
# CronJobs' pods). Build: docker build -t pyworkflow-retention-operator:0.1.0 .
# The runtime stage needs no shell and no writable root filesystem: node runs the compiled CLI directly.

ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: dependencies (with native modules) and the TypeScript compile ---------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
# better-sqlite3 compiles from source when no prebuilt binary matches the platform; koffi ships prebuilt.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# --- runtime -----------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="pyworkflow-retention-operator" \
      org.opencontainers.image.description="Kubernetes operator and CLI that purges old pyworkflow runs on every pyworkflow storage backend" \
      org.opencontainers.image.licenses="Apache-2.0"
# No home directory for uid 65532: point anything that wants one at /tmp (an emptyDir in the pods).
ENV NODE_ENV=production \
    HOME=/tmp
WORKDIR /app
COPY --from=build --chown=0:0 /src/package.json ./package.json
COPY --from=build --chown=0:0 /src/node_modules ./node_modules
COPY --from=build --chown=0:0 /src/dist/src ./dist/src
# Run pods start the program by name (command: [pyworkflow-retention], as the CronJobs the controller
# writes do); the entry point carries a `#!/usr/bin/env node` line.
RUN chmod 0755 /app/dist/src/cli/main.js \
 && ln -s /app/dist/src/cli/main.js /usr/local/bin/pyworkflow-retention
# Files owned by root and not writable by the runtime user; the processes run as 65532 (nonroot).
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["--help"]
