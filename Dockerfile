# One image for the operator's controller (`controller`) and its retention runs (`sweep`, in the
# CronJobs' pods, started as `node /app/dist/src/cli/main.js`, see src/reconcilers/desired-cronjob.ts).
#
# Real users: docker build -t pyworkflow-retention-operator:0.1.0 .
#   Both stages default to the official Node.js 24 LTS slim image. Pin it by digest for a
#   reproducible build: look the digest up where you can reach Docker Hub, e.g.
#     docker buildx imagetools inspect docker.io/library/node:24.22.3-bookworm-slim   (or)
#     skopeo inspect --format '{{.Digest}}' docker://docker.io/library/node:24.22.3-bookworm-slim
#   and pass --build-arg NODE_IMAGE=docker.io/library/node:24.22.3-bookworm-slim@sha256:<digest>.
#   (No digest is written here: this repository is built on machines without access to Docker Hub,
#   so a digest in this file could not be checked.)
# This repository: `npm run image` (scripts/image/build.sh) passes BUILD_IMAGE and RUNTIME_IMAGE made
#   locally by scripts/image/bases.sh (Debian bookworm by mmdebstrap + the same Node.js release).
#
# The runtime stage needs no shell, no package manager and no writable root filesystem: its one RUN
# is node itself, and a distroless-style base (libc + libstdc++ + node) is enough.

ARG NODE_IMAGE=docker.io/library/node:24.22.3-bookworm-slim
ARG BUILD_IMAGE=${NODE_IMAGE}
ARG RUNTIME_IMAGE=${NODE_IMAGE}

# --- build: dependencies (with native modules) and the TypeScript compile ---------------------------
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
# better-sqlite3 is compiled from source against the headers of this stage's node (under /usr/local
# in the official image and in the local base), so the same node runs it in the runtime stage and no
# prebuilt binary or header download is needed. koffi ships its binaries in its package.
ENV npm_config_build_from_source=true \
    npm_config_nodedir=/usr/local \
    npm_config_update_notifier=false
# A TLS-intercepting proxy's CA, when the build machine has one (scripts/image/build.sh mounts the
# host's NODE_EXTRA_CA_CERTS file for the RUN steps and names it here). A build argument, so it is
# neither kept in the image nor needed elsewhere.
ARG NODE_EXTRA_CA_CERTS
RUN if command -v python3 >/dev/null && command -v make >/dev/null && command -v g++ >/dev/null; then :; \
    else apt-get update \
      && apt-get install -y --no-install-recommends python3 make g++ \
      && rm -rf /var/lib/apt/lists/*; fi
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm,sharing=locked npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts/image/prune-node-modules.mjs scripts/image/check-load.mjs /tmp/
# Only src is compiled (tsconfig.json's other roots are not in the build context); then the dev
# dependencies and source maps go, then what the runtime never loads; then every module must still load.
RUN npx tsc -p tsconfig.json \
 && npm prune --omit=dev --no-audit --no-fund \
 && find dist -name '*.map' -delete \
 && node /tmp/prune-node-modules.mjs node_modules \
 && node /tmp/check-load.mjs dist/src

# --- runtime -----------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
LABEL org.opencontainers.image.title="pyworkflow-retention-operator" \
      org.opencontainers.image.description="Kubernetes operator and CLI that purges old pyworkflow runs on every pyworkflow storage backend" \
      org.opencontainers.image.licenses="Apache-2.0"
# No home directory for uid 65532: point anything that wants one at /tmp (an emptyDir in the pods).
ENV NODE_ENV=production \
    HOME=/tmp
# No package managers at run time: the official image's npm, npx, corepack and yarn go (in the local
# runtime base there are none). Exec form, so no shell is needed: node does the removal.
USER 0:0
RUN ["node", "-e", "const fs = require('fs'); for (const p of ['/usr/local/lib/node_modules', '/usr/local/bin/npm', '/usr/local/bin/npx', '/usr/local/bin/corepack', '/usr/local/bin/yarn', '/usr/local/bin/yarnpkg', ...(fs.existsSync('/opt') ? fs.readdirSync('/opt').filter((d) => d.startsWith('yarn')).map((d) => '/opt/' + d) : [])]) fs.rmSync(p, { recursive: true, force: true })"]
WORKDIR /app
# Files owned by root and not writable by the runtime user; the processes run as 65532 (nonroot).
COPY --from=build --chown=0:0 /src/package.json ./package.json
COPY --from=build --chown=0:0 /src/node_modules ./node_modules
COPY --from=build --chown=0:0 /src/dist/src ./dist/src
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["--help"]
