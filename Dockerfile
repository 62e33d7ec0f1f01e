# The redis-ha operator image: Node 24 runs the TypeScript sources directly (type stripping).
# Non-root (65532), and nothing is written at run time, so the Deployment's read-only root filesystem holds.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# The npm `node` package (the local runtime's Node) is not needed: the base image is Node 24.
RUN npm ci --omit=dev --ignore-scripts && rm -rf node_modules/node node_modules/.bin/node && npm cache clean --force

FROM gcr.io/distroless/nodejs24-debian12:nonroot
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
USER 65532:65532
ENV NODE_ENV=production
EXPOSE 8080
ENTRYPOINT ["/nodejs/bin/node", "bin/redis-ha.js"]
CMD ["operator"]
