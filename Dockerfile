# stated container image: Debian 12 with the same Debian libraries the project builds against.
FROM debian:12-slim AS build
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      build-essential pkg-config libh2o-evloop-dev libjansson-dev libpq-dev \
      libcurl4-openssl-dev libssl-dev ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make -j"$(nproc)" all

FROM debian:12-slim
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      libh2o-evloop0.13 libjansson4 libpq5 libcurl4 libssl3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/stated --create-home stated
COPY --from=build /src/build/bin/stated /src/build/bin/statectl /usr/local/bin/
USER stated
WORKDIR /var/lib/stated
ENV STATED_LISTEN=0.0.0.0:8080 STATED_DATA_DIR=/var/lib/stated/data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD ["/bin/sh", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080"]
ENTRYPOINT ["/usr/local/bin/stated"]
