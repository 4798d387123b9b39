# docker/haproxy-local.Dockerfile — HAProxy for scripts/compose-smoke.sh, standing in for the
# registry's haproxy image that docker-compose.yml names: Debian 12's own haproxy package (2.6) on
# the root file system the script bootstrapped, laid out as the official image is (configuration
# read from /usr/local/etc/haproxy/haproxy.cfg, master-worker in the foreground, user haproxy, a
# soft stop on SIGUSR1), so that the compose file's mount works unchanged.
#
# Build context: docker/ (nothing is copied; the configuration is mounted).

ARG BASE_IMAGE=ticketing-local/debian:bookworm
FROM ${BASE_IMAGE}
# Versions: those of the base's Debian release on the day of the build (see
# postgres-local.Dockerfile). The package's postinst creates the haproxy system user; its uid and
# gid are then set to the official image's (99), so that USER can be numeric. The package's
# service and its /etc/haproxy/haproxy.cfg are not used.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends haproxy \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* \
    && groupmod --gid 99 haproxy \
    && usermod --uid 99 --gid 99 haproxy \
    && mkdir -p /usr/local/etc/haproxy
USER 99:99
EXPOSE 8080 3002 4000 3007 3004 3005 8404
STOPSIGNAL SIGUSR1
ENTRYPOINT ["/usr/sbin/haproxy", "-W", "-db"]
CMD ["-f", "/usr/local/etc/haproxy/haproxy.cfg"]
