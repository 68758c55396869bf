# syntax=docker/dockerfile:1
# pullsecret-operator image: the compiled operator and its production dependencies only.
#   docker build -t icr.io/<namespace>/pullsecret-operator:0.1.0 .
# Node: an LTS line (Node 24, maintained until 2028-04). Pin the base images by digest in CI
# (FROM node:24-bookworm-slim@sha256:...) for reproducible builds.
ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: all dependencies, TypeScript compiled into dist/src ---------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# tsc -p tsconfig.build.json: rootDir ".", outDir "dist", so src/main.ts -> dist/src/main.js.
RUN npm run build

# --- runtime: production dependencies and dist/src, nothing else ------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no install scripts run; the runtime needs none. The npm cache is removed
# so that the layer holds node_modules only.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
# package.json stays: src/version.ts reads the version from it (found from dist/src upwards).
COPY --from=build /app/dist/src ./dist/src
# A numeric non-root user (the "nonroot" id of distroless images); Kubernetes can verify
# runAsNonRoot only for a numeric user. The files stay owned by root: read-only to the process.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["node", "dist/src/main.js"]
