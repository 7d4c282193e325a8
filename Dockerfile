# stated container image (docs/container.md). Built from source against Debian 12's own
# libraries; the image that runs has only their runtime packages, the three programs and the
# bundled modules, and runs as the unprivileged user stated (UID/GID 10001).
#
#   docker build -t stated:0.2.0 .
#   docker run -d -p 127.0.0.1:8080:8080 -e STATED_ADMIN_TOKEN -v stated-data:/var/lib/stated/data stated:0.2.0
#
# tests/suites/63-container.sh reads this file: it replays the build stage's make command on
# the context .dockerignore lets through and runs the HEALTHCHECK command against a real stated.

FROM debian:12-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential pkg-config \
       libh2o-evloop-dev libjansson-dev libpq-dev libcurl4-openssl-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Debug information stays in the build stage: the image gets stripped binaries.
RUN make -j"$(nproc)" all \
    && strip --strip-unneeded build/bin/stated build/bin/statectl build/bin/stackgen

FROM debian:12-slim
# The libraries the binaries link (libc is in the base), and the CA bundle for https S3,
# PostgreSQL over TLS and OIDC issuers. The numeric IDs let runAsNonRoot checks verify USER.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       libh2o-evloop0.13 libjansson4 libpq5 libcurl4 libssl3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 stated \
    && useradd --uid 10001 --gid 10001 --no-log-init --no-create-home \
       --home-dir /var/lib/stated --shell /usr/sbin/nologin stated \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/stated /var/lib/stated/data
COPY --from=build /src/build/bin/stated /src/build/bin/statectl /src/build/bin/stackgen /usr/local/bin/
# stackgen finds them at ../share/stated/scaleway next to its binary.
COPY module/scaleway /usr/local/share/stated/scaleway

# Build arguments come last so that a new version or revision reuses the layers above.
ARG VERSION=0.2.0
ARG REVISION=
ARG CREATED=
LABEL org.opencontainers.image.title="stated" \
      org.opencontainers.image.description="Terraform/OpenTofu HTTP state server: states in S3, locks and audit in PostgreSQL" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="docker.io/library/debian:12-slim"

ENV STATED_LISTEN=0.0.0.0:8080 \
    STATED_DATA_DIR=/var/lib/stated/data \
    STATECTL_URL=http://127.0.0.1:8080
VOLUME ["/var/lib/stated/data"]
WORKDIR /var/lib/stated
USER 10001:10001
EXPOSE 8080
# Asks stated itself (GET /healthz) on the port it listens on, wherever STATED_LISTEN puts it;
# statectl gives up before Docker's timeout so the reason is kept in the health log.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD /usr/local/bin/statectl health --timeout 4s --url "http://127.0.0.1:${STATED_LISTEN##*:}" || exit 1
ENTRYPOINT ["/usr/local/bin/stated"]
