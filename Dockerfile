# The IdP as a container image (docs/production.md, Container image).
# Stage 1 builds with every dependency; stage 2 installs production dependencies only; the final
# stage holds the built server, the pages, the PWA and those dependencies, and runs as `node`.
FROM node:22-bookworm-slim AS build
# Python, make and a C compiler for the two optional native parts `npm run build` compiles (the Web
# Push ECDH and the C heap trim, scripts/build-native.mjs); only this stage has them.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:22-bookworm-slim AS runtime-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:22-bookworm-slim
ENV NODE_ENV=production DATA_DIR=/data CONFIG_DIR=/app/config PORT=3000
WORKDIR /app
# Owned by root and read-only to the server: a compromised process cannot rewrite its own code.
COPY --from=runtime-deps /app/node_modules ./node_modules
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/dist ./dist
COPY --from=build /app/views ./views
COPY --from=build /app/pwa/dist ./pwa/dist
COPY --from=build /app/config ./config
RUN mkdir -p /data && chown node:node /data && chmod 700 /data
USER node
VOLUME /data
EXPOSE 3000
# Liveness only (no I/O): /readyz is for the load balancer, which must not restart a process
# because its database is slow.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM starts the graceful shutdown (SHUTDOWN_GRACE seconds for requests in flight).
STOPSIGNAL SIGTERM
# A smaller young generation keeps the resident set lower at no measured CPU cost (bench/memory.ts).
CMD ["node", "--max-semi-space-size=4", "dist/src/main.js"]
