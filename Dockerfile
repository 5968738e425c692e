# One image for every Muxly service; the compose file picks the service by its command.
# Node 24 runs the TypeScript sources directly (type stripping), so there is no build stage.
FROM node:24-bookworm-slim AS base
WORKDIR /app
ENV NODE_ENV=production

COPY package.json package-lock.json ./
COPY schemas/package.json schemas/
COPY common/package.json common/
COPY ingest/package.json ingest/
COPY transformer/package.json transformer/
COPY router/package.json router/
COPY control-plane/package.json control-plane/
RUN npm ci --omit=dev --no-fund --no-audit && npm cache clean --force

COPY schemas schemas
COPY common common
COPY ingest ingest
COPY transformer transformer
COPY router router
COPY control-plane control-plane
COPY migrations migrations
COPY config config

# Every folder a service writes to exists in the image, owned by the service user: a volume
# mounted there (compose mounts one at /app/.local/out for the file destination) starts with
# these owners, where Docker would otherwise create it owned by root and the services could not
# write (EACCES).
RUN mkdir -p /app/.local/out /var/lib/muxly && chown node:node /app/.local /app/.local/out /var/lib/muxly

# The image starts in production mode with no settings file: a service refuses to start until
# its keys are set (docs/security.md). The compose file of the local stack chooses local mode.
ENV MUXLY_MODE=production
USER node
# Services stop gracefully on SIGTERM (docker stop) within their shutdown timeout.
STOPSIGNAL SIGTERM
CMD ["node", "ingest/src/main.ts"]
