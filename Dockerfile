# syntax=docker/dockerfile:1
# pullsecret-operator image: Node and one bundled file, nothing else.
#   docker build -t icr.io/<namespace>/pullsecret-operator:0.1.0 .
# Node: an LTS line (Node 24, maintained until 2028-04). Pin the base images by digest in CI
# (FROM node:24-bookworm-slim@sha256:...) for reproducible builds. NODE_IMAGE is the one base of
# every stage, so a build can swap it (a local base, a mirror, another LTS).
ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: all dependencies; esbuild bundles the operator and its production dependencies ------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.ts ./scripts/
COPY src ./src
# scripts/build.ts: src/main.ts -> dist/pullsecret-operator.mjs (one ESM file, the version inside).
RUN npm run build

# --- runtime: the bundle and its license notices; no node_modules, no npm install ---------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/dist/pullsecret-operator.mjs /app/dist/pullsecret-operator.mjs.LEGAL.txt ./dist/
# A numeric non-root user (the "nonroot" id of distroless images); Kubernetes can verify
# runAsNonRoot only for a numeric user. The files stay owned by root: read-only to the process.
# OpenShift runs the image under an arbitrary UID in group 0 instead: the files are readable by
# group 0 (and everyone) and the process writes nothing, so that works too (test/image checks both).
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["node", "dist/pullsecret-operator.mjs"]
