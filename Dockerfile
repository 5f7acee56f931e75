# Builder and runtime share one base, so better-sqlite3's native module is compiled against the
# same Node.js and libc that run it.
FROM node:22-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
# npm run build bundles the daemon with this script after tsc (the image runs the bundle).
COPY tools/build ./tools/build
RUN npm ci --no-audit --no-fund \
 && npm run build \
 && npm prune --omit=dev

FROM node:22-bookworm-slim
# The API listens on every interface, so the daemon refuses to start without an API token:
# mount one and point at it (-e GCACHE_ADVISOR_HTTP__TOKEN_FILE=/run/secrets/api-token), or set
# http.tokenEnv / http.tokenFile in the config. Only http.allowUnauthenticated: true, said
# explicitly, serves /api to anyone who can reach the port.
ENV NODE_ENV=production \
    GCACHE_ADVISOR_CONFIG=/etc/gcache-advisor/config.yaml \
    GCACHE_ADVISOR_STORAGE__PATH=/var/lib/gcache-advisor/gcache-advisor.db \
    GCACHE_ADVISOR_HTTP__LISTEN=0.0.0.0:9106
# Memory at fleet scale, measured with npm run bench:fleet (README, "A fleet"), which runs the
# daemon with these: a young generation of 2 × 4 MB rather than V8's 2 × 16 MB, and two malloc
# arenas instead of glibc's default of one per thread that allocates, up to eight per core (side
# by side with one arena: about the same at 1,002 nodes, 148 against 178 MB at 30). The daemon
# bounds the heap's growth between full collections itself (src/cli/heap.ts).
ENV NODE_OPTIONS="--max-semi-space-size=4" \
    MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY rules ./rules
COPY dashboards ./dashboards
RUN mkdir -p /var/lib/gcache-advisor /etc/gcache-advisor && chown node:node /var/lib/gcache-advisor
USER node
VOLUME ["/var/lib/gcache-advisor"]
EXPOSE 9106
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:9106/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/gcache-advisor.js"]
CMD ["serve"]
