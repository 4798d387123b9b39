# Dockerfile — the fleet's one image: all six services and the storefront, the one to run chosen
# by the command.
#
#     docker build -t ticketing:latest .
#     docker run --rm -p 127.0.0.1:8080:8080 ticketing:latest user-service
#
# The workspace is compiled once, in four stages:
#   chef     the Rust toolchain plus cargo-chef;
#   planner  reduces the sources to a recipe (the manifests and Cargo.lock);
#   builder  compiles the dependencies from the recipe alone (a layer that stays cached until a
#            manifest or Cargo.lock changes), then the workspace's own code, and strips the seven
#            binaries of their debug information (68 MB -> 14 MB each; symbols stay, so a panic's
#            backtrace still names its functions); the storefront's templates, styles and
#            scripts are compiled into its binary, so it needs no file beside it;
#   runtime  distroless: glibc, libgcc_s and CA certificates (what `ldd` asks for: libc, libm,
#            libgcc_s), no shell, no package manager. It runs as uid 10001 and has no HEALTHCHECK:
#            Compose and Kubernetes probe /ready and /health themselves.
#
# The probe: Compose's healthcheck runs inside the container, and this image has no curl and no
# shell. It carries one static busybox (1 MB) for exactly that, used as
# `busybox wget -q -O /dev/null http://127.0.0.1:<port>/ready` (exit 1 on 503). Kubernetes does
# not need it (its probes are HTTP requests from the kubelet).
#
# The base images are Debian 12 (bookworm) on both sides, so the glibc the binaries are linked
# against (2.36) is the one they run on. scripts/compose-smoke.sh cannot build this file (no
# registry is reachable there); it builds docker/runtime-local.Dockerfile instead, the same
# runtime layout on a locally bootstrapped Debian 12, from binaries compiled outside Docker.

ARG RUST_VERSION=1.95
ARG CARGO_CHEF_VERSION=0.1.76

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
ARG CARGO_CHEF_VERSION
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
# The dependency layer: rebuilt only when recipe.json (manifests, Cargo.lock) changes. It builds
# the whole workspace's dependencies, as the `cargo build` below does, so that both resolve the
# same features and nothing is compiled twice.
RUN cargo chef cook --release --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked \
    && mkdir -p /out \
    && for bin in user-service catalog-service seating-service order-service payment-service \
        notification-service storefront; do \
        strip --strip-debug -o "/out/${bin}" "target/release/${bin}"; \
    done

FROM busybox:1.37.0-musl AS probe

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
LABEL org.opencontainers.image.title="ticketing" \
      org.opencontainers.image.description="The ticketing fleet: user-service, catalog-service, seating-service, order-service, payment-service, notification-service, storefront; run one by naming it as the command" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
COPY --from=probe /bin/busybox /usr/local/bin/busybox
COPY --from=builder /out/ /usr/local/bin/
# Not the image's 65532 `nonroot`: the fleet's agreed uid, the same in Compose and Kubernetes.
USER 10001:10001
# user 8080, catalog 3002, seating 4000, order 3007, payment 3004, notification 3005, storefront
# 8000.
EXPOSE 8080 3002 4000 3007 3004 3005 8000
# No default service: `docker run ticketing:latest order-service`, `command: ["order-service"]`.
