# The IdP as a container image: built sources, production dependencies only.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production DATA_DIR=/data
COPY --from=build /app /app
VOLUME /data
EXPOSE 3000
USER node
# A smaller young generation keeps the resident set lower at no measured CPU cost (bench/memory.ts).
CMD ["node", "--max-semi-space-size=4", "dist/src/main.js"]
