# syntax=docker/dockerfile:1
# Build stage: compile TypeScript (with the Swagger plugin) into dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
RUN npx nest build && npm prune --omit=dev

# Runtime stage: production dependencies, dist/, default config and profiles; non-root.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    MODEL_SCAN_PATH=/models \
    REGISTRY_PATH=/app/data/model_registry.json \
    STATE_PATH=/app/data/state.json \
    PROFILES_PATH=/app/profiles
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
COPY profiles ./profiles
RUN mkdir -p /models /app/data && chown -R node:node /app /models
USER node
VOLUME ["/models", "/app/data", "/app/profiles"]
EXPOSE 8000
# llama-server is not in this image: mount or layer one and set LLAMA_SERVER_PATH.
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health/live').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
CMD ["node", "dist/main.js"]
