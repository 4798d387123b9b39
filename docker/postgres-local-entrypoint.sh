#!/bin/bash
# docker/postgres-local-entrypoint.sh — the entrypoint of docker/postgres-local.Dockerfile: the part
# of the official postgres image's entrypoint that docker-compose.yml relies on.
#
# On an empty PGDATA (default /var/lib/postgresql/data) it creates the cluster: superuser
# POSTGRES_USER (default postgres) with password POSTGRES_PASSWORD (required, unless
# POSTGRES_HOST_AUTH_METHOD=trust), UTF-8, password authentication (POSTGRES_HOST_AUTH_METHOD,
# default scram-sha-256) for connections over the network, trust over the local socket, and the
# database POSTGRES_DB (default: the user's name). Extra initdb options: POSTGRES_INITDB_ARGS.
# A PGDATA that already holds a cluster is used as it is. Then it runs `postgres` in the
# foreground with the arguments given (`postgres -c max_connections=200`, or just `-c ...`).
# Any other command is run as it is.
set -euo pipefail

if [[ "${1:-}" == -* ]]; then
    set -- postgres "$@"
fi
if [[ "${1:-}" != postgres ]]; then
    exec "$@"
fi
shift

say() {
    printf 'postgres-entrypoint: %s\n' "$*" >&2
}

PGDATA="${PGDATA:-/var/lib/postgresql/data}"
export PGDATA
user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"
auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    if [[ -z "${POSTGRES_PASSWORD:-}" && "$auth" != trust ]]; then
        say "error: the database is uninitialized and POSTGRES_PASSWORD is not set"
        say "set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust, never outside a laptop)"
        exit 1
    fi
    say "initializing a cluster in $PGDATA (superuser $user, database $db, host auth $auth)"
    mkdir -p "$PGDATA"
    chmod 0700 "$PGDATA"
    pwfile="$(mktemp)"
    printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of options
    initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host="$auth" \
        --encoding=UTF8 --locale=C.UTF-8 ${POSTGRES_INITDB_ARGS:-} >/dev/null
    rm -f "$pwfile"
    printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
    printf 'host all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"
    if [[ "$db" != postgres ]]; then
        # A server on the socket only, so that nobody connects before the database exists.
        pg_ctl --silent --wait --options="-c listen_addresses=''" start
        psql --quiet --no-psqlrc --set=ON_ERROR_STOP=1 --username="$user" --dbname=postgres \
            --set=db="$db" <<<'CREATE DATABASE :"db";'
        pg_ctl --silent --wait --mode=fast stop
    fi
    say "cluster ready"
fi

exec postgres "$@"
