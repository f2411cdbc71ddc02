# One image for every role: SERVICES picks what a container runs.
# Debian slim, not alpine: the uWebSockets.js binaries need glibc.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/
# --ignore-scripts: the `prepare` build needs the sources, so it runs after COPY below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build:client && npm run build:web && npm prune --omit=dev --no-audit --no-fund

FROM node:22-bookworm-slim
# HOST: in a container the ports must be reachable from outside it (npm start binds 127.0.0.1).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    DATA_DIR=/data \
    PORT=3000 \
    LIVE_PORT=3001
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/package.json /app/server.ts /app/moleculer.config.ts ./
COPY --from=build /app/config ./config
COPY --from=build /app/lib ./lib
COPY --from=build /app/runtime ./runtime
COPY --from=build /app/middlewares ./middlewares
COPY --from=build /app/mixins ./mixins
COPY --from=build /app/services ./services
COPY --from=build /app/gateways ./gateways
# The protocol's frames and codes are the SDK's (packages/client/src/protocol); the simulator uses its build.
COPY --from=build /app/packages ./packages
COPY --from=build /app/scripts ./scripts
COPY --from=build /app/web/dist ./web/dist
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000 3001
VOLUME ["/data"]
STOPSIGNAL SIGTERM
# Every role answers /health/ready: the REST gateway on PORT, else the live gateway on LIVE_PORT,
# else the health server on PORT; the script picks the port from SERVICES.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["node", "scripts/healthcheck.ts"]
CMD ["node", "server.ts"]
