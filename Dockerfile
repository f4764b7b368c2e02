# Image of the analytics sink. Node 24 runs the TypeScript sources directly (type
# stripping), so there is no build stage: production dependencies plus src/ and bin/.
FROM node:24-slim

ENV NODE_ENV=production
# A malloc that gives large buffers back keeps memory flat whatever the backlog (with the
# bounded heap of the entrypoint's flags; docs/decisions.md, docs/performance.md).
ENV MALLOC_ARENA_MAX=2 \
  MALLOC_MMAP_THRESHOLD_=131072 \
  MALLOC_TRIM_THRESHOLD_=4194304
# Inside the container's own network namespace /metrics must answer from outside it
# (the service's own default is 127.0.0.1).
ENV METRICS_HOST=0.0.0.0
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

# The launcher's V8 flags (bin/runtime.js): a bounded heap, one V8 helper thread, the old
# generation's growth. Given here, the launcher runs the service in this process instead of
# starting a second one with them; NODE_OPTIONS refuses V8's own --heap-growing-percent.
ENTRYPOINT ["node", "--max-old-space-size=256", "--max-semi-space-size=16", "--v8-pool-size=1", "--heap-growing-percent=75", "bin/analytics-service.js"]
CMD ["run"]
