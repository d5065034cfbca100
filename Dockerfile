# The cloud-api-adaptor image: `caa serve` is the per-node daemon (deploy/base/daemonset.yaml);
# `caa forwarder` is the agent-protocol-forwarder. Pod-VM image builds take the pod-VM side as one
# directory from here, /app/dist/podvm/, which needs node and nothing else (no node_modules): the
# bundle, its loader, and shell launchers that run node with the pod VM's node flags
# (src/podvm/node-flags.ts), among them `agent-protocol-forwarder` and `process-user-data` for
# upstream's systemd units (docs/pod-vm-image.md); the local provider boots the same files with the
# same flags.

# Build: compile TypeScript to dist/ and bundle the pod-VM side (scripts/build.ts; esbuild's
# platform binary is an npm optional dependency, so --ignore-scripts still installs it).
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY providers ./providers
RUN npm run build

# Production: runtime dependencies only, plus the tools the pod network code runs
# (ip, tc, iptables; upstream's image has iptables and ca-certificates, docs/upstream-compat.md §9.3).
FROM node:24-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 iptables ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist ./dist
# `caa` is the bundle of dist/caa/ (scripts/bundle-daemon.ts: ~9 MB less resident than the
# per-file build beside it). Semi-spaces of 1 MB (V8 sizes them from the heap limit, up to 16 MB
# each): the daemon allocates little that lives long, and a grown young generation stays resident
# (footprint bench).
RUN printf '#!/bin/sh\nexec node --max-semi-space-size=1 /app/dist/caa/main.js "$@"\n' > /usr/local/bin/caa \
 && chmod 0755 /usr/local/bin/caa
ENTRYPOINT ["caa"]
CMD ["serve"]
