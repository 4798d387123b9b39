# docker/runtime-local.Dockerfile — the fleet's image for scripts/compose-smoke.sh, where no
# registry can be reached: the runtime layout of ../Dockerfile (the seven binaries in
# /usr/local/bin, uid 10001, no HEALTHCHECK, the service chosen by the command, busybox for
# Compose's /ready probe) on a Debian 12 root file system that the script bootstrapped itself
# (debootstrap; it brings busybox-static), from binaries compiled outside Docker.
#
# Build context: a directory holding this file's COPY source, bin/ (the seven binaries, stripped
# of debug information as ../Dockerfile strips them). BASE_IMAGE: the imported root file system.

ARG BASE_IMAGE=ticketing-local/debian:bookworm
FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="ticketing" \
      org.opencontainers.image.description="The ticketing fleet (local build for the Compose smoke test)"
# The Debian base has its own busybox at /bin/busybox; the link puts it where ../Dockerfile puts
# its own, so that the healthcheck's `busybox wget` means the same binary path in both images.
RUN ln -s /bin/busybox /usr/local/bin/busybox \
    && groupadd --gid 10001 ticketing \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin ticketing
COPY bin/ /usr/local/bin/
USER 10001:10001
EXPOSE 8080 3002 4000 3007 3004 3005 8000
