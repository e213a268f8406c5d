# The Skillgate image: one image, every role — `docker run skillgate:local gateway|worker|dev`
# (docker-compose.yml runs two gateways and two workers from it on an external Temporal cluster).
# Not built or run on the development machines of this project (no Docker engine there).
# No secret is baked in: keys come from the environment at run time (docs/config.md).

FROM node:20-bookworm-slim AS build
WORKDIR /app
# The image talks to the cluster in TEMPORAL_ADDRESS: no embedded Temporal CLI needed, and no
# Node 22 (only the MCP Inspector test uses it).
ENV SKILLGATE_SKIP_TEMPORAL_FETCH=1 SKILLGATE_SKIP_NODE22_FETCH=1 CI=true
COPY . .
# `npm ci` runs `prepare`, which builds dist/ (the CLI and the demo MCP servers); then the
# build tools go. The runtime needs product dependencies only (the MCP reference servers of the
# demo workspace are dependencies too).
RUN npm ci && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/skills ./skills
COPY --from=build /app/skillgate.yaml ./skillgate.yaml
# The pinned tool catalog: without it the gateway serves no upstream tool (docs/curation.md).
COPY --from=build /app/tools.lock.json ./tools.lock.json
COPY --from=build /app/policies ./policies
# The demo `filesystem` server (the coding agent's) serves this folder.
COPY --from=build /app/docs ./docs
RUN mkdir -p .skillgate && chown node:node .skillgate
USER node
# Stops cleanly on SIGTERM (worker shutdown, upstream connections, Temporal connection).
# The command is the role (or any other subcommand: `… run <skill>`, `… audit verify`).
ENTRYPOINT ["node", "bin/skillgate.js"]
CMD ["dev"]
