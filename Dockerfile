# Image of the analytics sink. Node 24 runs the TypeScript sources directly (type
# stripping), so there is no build stage: production dependencies plus src/ and bin/.
FROM node:24-slim

ENV NODE_ENV=production
# A bounded heap and a malloc that gives large buffers back keep memory flat whatever the
# backlog; one V8 helper thread suits a container of two cores or fewer (docs/decisions.md,
# docs/benchmarks.md).
ENV NODE_OPTIONS="--max-old-space-size=256 --max-semi-space-size=16 --v8-pool-size=1" \
  MALLOC_ARENA_MAX=2 \
  MALLOC_MMAP_THRESHOLD_=131072 \
  MALLOC_TRIM_THRESHOLD_=4194304
WORKDIR /app

# Dependencies first, so editing the sources does not invalidate this layer. --omit=dev
# keeps the `node` devDependency (a pinned Node binary for local work) out of the image:
# the base image already provides Node 24. --ignore-scripts: no install scripts are needed.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts \
  && npm cache clean --force

COPY src/ ./src/
COPY bin/ ./bin/

# The files stay root-owned (read-only for the service); the process runs unprivileged.
USER node

# /metrics, /healthz and /readyz (METRICS_PORT).
EXPOSE 9464

ENTRYPOINT ["node", "bin/analytics-service.js"]
CMD ["run"]
