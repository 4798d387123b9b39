# docker/postgres-local.Dockerfile — PostgreSQL for scripts/compose-smoke.sh, standing in for the
# registry's postgres:15-bookworm that docker-compose.yml names: Debian 12's own PostgreSQL 15 on
# the root file system the script bootstrapped, with an entrypoint that honours what the compose
# file gives the official image (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA; data in
# /var/lib/postgresql/data; `pg_isready` on PATH for the healthcheck).
#
# Build context: docker/ (this file and postgres-local-entrypoint.sh).

ARG BASE_IMAGE=ticketing-local/debian:bookworm
FROM ${BASE_IMAGE}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Versions are left to the Debian release of the base (its security and point-release updates on
# the day the image is built): pinning them would break with every Debian point release, and this
# image only ever serves the smoke test. The package's postinst would create a cluster "main" of
# its own; the entrypoint creates the one in PGDATA instead. The postgres user is created first,
# with the official image's uid and gid (999), which the package then adopts.
# hadolint ignore=DL3008
RUN groupadd --system --gid 999 postgres \
    && useradd --system --uid 999 --gid 999 --home-dir /var/lib/postgresql --shell /bin/bash \
        postgres \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-common \
    && sed -ri 's/^#?\s*create_main_cluster\s*=.*$/create_main_cluster = false/' \
        /etc/postgresql-common/createcluster.conf \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
    && chmod 0700 /var/lib/postgresql/data
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
COPY postgres-local-entrypoint.sh /usr/local/bin/postgres-entrypoint
USER 999:999
VOLUME ["/var/lib/postgresql/data"]
EXPOSE 5432
# Fast shutdown, as the official image does: SIGTERM would wait for every client to disconnect.
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]
CMD ["postgres"]
