# docker/prometheus-local.Dockerfile — Prometheus for scripts/compose-smoke.sh, standing in for the
# registry's prom/prometheus that docker-compose.yml names: Debian 12's own prometheus package on
# the root file system the script bootstrapped, laid out as the official image is (entrypoint
# the prometheus binary, data in /prometheus, user nobody), so that the compose file's command,
# mounts and volume work unchanged.
#
# Build context: docker/ (nothing is copied).

ARG BASE_IMAGE=ticketing-local/debian:bookworm
FROM ${BASE_IMAGE}
# Versions: those of the base's Debian release on the day of the build (see
# postgres-local.Dockerfile). --no-install-recommends leaves out node-exporter.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /prometheus \
    && chown 65534:65534 /prometheus
USER 65534:65534
WORKDIR /prometheus
VOLUME ["/prometheus"]
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
