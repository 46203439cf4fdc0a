# The control-plane image: sandboxd (and the sandbox supervisor, sandbox-init, that the
# sandbox image is built with), compiled in a build stage, run from a slim Debian with
# only the shared libraries it links and the Docker CLI (sandboxd drives the engine by
# running `docker` against the mounted socket).
#
# Online:  docker build -f docker/sandboxd.Dockerfile -t sandboxed-sandboxd:0.1.0 .
# Offline: docker/build-images.sh passes BASE_IMAGE=sandboxed-debian:bookworm, a
#          debootstrapped stand-in for debian:12-slim built from Debian's packages.
# Behind a TLS-intercepting proxy: --build-arg EXTRA_CA_CERT="$(cat proxy-ca.pem)".
# Works with the legacy builder (Debian's docker.io has no buildx).
ARG BASE_IMAGE=debian:12.12-slim

FROM ${BASE_IMAGE} AS build
ARG EXTRA_CA_CERT=
USER root
# Package versions are those of Debian 12 (bookworm), which only takes security fixes.
RUN if [ -n "$EXTRA_CA_CERT" ]; then \
      mkdir -p /usr/local/share/ca-certificates \
      && printf '%s\n' "$EXTRA_CA_CERT" > /usr/local/share/ca-certificates/extra.crt; \
    fi \
 && apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      ca-certificates g++ cmake make pkg-config libcpp-httplib-dev nlohmann-json3-dev \
      libsqlitecpp-dev libsqlite3-dev libspdlog-dev libcli11-dev libssl-dev \
 && update-ca-certificates \
 # The Docker CLI: Debian's docker.io unpacked, not installed (its scripts want an init
 # system); /usr/bin/docker is a static binary.
 && cd /tmp && apt-get download -q docker.io \
 && dpkg-deb -x docker.io_*.deb /tmp/docker.io && cp /tmp/docker.io/usr/bin/docker /usr/local/bin/docker \
 && rm -rf /tmp/docker.io* /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake cmake
COPY include include
COPY src src
# Embedded into the binary: the spec it serves at GET /v1/openapi.json, and the web
# console's files (/console).
COPY api/openapi.json api/openapi.json
COPY console console
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSANDBOXD_BUILD_TESTS=OFF >/dev/null \
 && cmake --build build -j2 --target sandboxd sandbox-init \
 && strip build/sandboxd build/sandbox-init
# uninstall.sh --images removes this stage's untagged image by this label.
LABEL sandboxed.build-stage=true

FROM ${BASE_IMAGE}
ARG EXTRA_CA_CERT=
USER root
RUN if [ -n "$EXTRA_CA_CERT" ]; then \
      mkdir -p /usr/local/share/ca-certificates \
      && printf '%s\n' "$EXTRA_CA_CERT" > /usr/local/share/ca-certificates/extra.crt; \
    fi \
 && apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      ca-certificates tini libspdlog1.10 libfmt9 libcpp-httplib0.11 libsqlite3-0 libssl3 libstdc++6 \
      e2fsprogs mount iptables \
 && update-ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY --from=build /usr/local/bin/docker /usr/local/bin/docker
COPY --from=build /src/build/sandboxd /usr/local/bin/sandboxd
# Not run here: docker/build-images.sh copies it into the sandbox image.
COPY --from=build /src/build/sandbox-init /usr/local/lib/sandboxed/sandbox-init
LABEL org.opencontainers.image.title=sandboxed-sandboxd \
      org.opencontainers.image.description="sandboxed control plane (sandboxd)"
ENV LANG=C.UTF-8
# sandboxd runs as root in here: it needs the Docker socket (root-equivalent) and owns
# the data dir; see docs/security.md.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/sandboxd"]
CMD ["serve"]
