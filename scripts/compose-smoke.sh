#!/usr/bin/env bash
# scripts/compose-smoke.sh — docker-compose.yml proven by starting it (CI runs it via .ci/run).
#
#   scripts/compose-smoke.sh
#
# These machines reach the package registries but no container registry, so nothing is pulled:
#
#   lint      hadolint on every Dockerfile, `docker-compose config -q` (scripts/lint-docker.sh);
#   engine    a Docker engine: the running one, or Debian's docker.io installed (as root) and
#             dockerd started in the background (stopped again at the end). Where none can be
#             had, the script prints `SKIPPED: no Docker engine` and exits 0;
#   binaries  the six services, the storefront and e2e-flow: FLEET_BIN_DIR if set (prebuilt),
#             else `cargo build --locked --profile SMOKE_PROFILE` (release, or debug); their
#             dynamic libraries and glibc version are checked against the base;
#   base      a Debian root file system (debootstrap --variant=minbase, the suite of this
#             machine, so its glibc is the one the binaries were linked against; the mirror taken
#             from this machine's apt sources), imported as the image ticketing-local/debian.
#             Cached: the image stays in the engine, the tarball in
#             ${TICKETING_TOOLS_DIR:-/var/tmp/ticketing-tools}/docker/;
#   images    on that base: the fleet's runtime from the binaries (docker/runtime-local.Dockerfile,
#             tag ticketing:smoke), PostgreSQL 15 from Debian's package
#             (docker/postgres-local.Dockerfile), Prometheus from Debian's package
#             (docker/prometheus-local.Dockerfile), HAProxy from Debian's package
#             (docker/haproxy-local.Dockerfile);
#   up        docker-compose.yml plus an override that swaps only the registry images for those
#             (and, Mailpit being left out, has notification-service write its e-mails as .eml
#             files into a folder instead of sending them over SMTP); the `ui` profile (Grafana,
#             Mailpit: registry-only) is left out. Two replicas of each service and of the
#             storefront (SMOKE_REPLICAS) behind the balancer: waits until every container is
#             healthy, every /ready on the published ports (the balancer's) answers, and the
#             balancer counts both replicas of every service up (its stats page); the storefront's
#             home page answers 200 text/html;
#   journey   e2e-flow against the published ports (127.0.0.1: the balancer), reading the receipt
#             from the mail folder; then the storefront lists the journey's event and its page
#             (the seat map) answers 200;
#   replicas  kills one replica of order-service and one of seating-service (SIGKILL) and walks
#             the journey again at once: it passes on the replicas left; then starts them again;
#   outage    stops PostgreSQL and shows every /ready answering 503, then starts it again; stops
#             both seating-service replicas and shows what /ready of its callers (catalog-service,
#             order-service) answers and that the journey fails; starts them again and shows the
#             journey passing;
#   metrics   Prometheus (monitoring/prometheus.yml, rules/) scrapes every replica of the six
#             services and the storefront (two targets each, all up; not the balancer), the rules
#             loaded;
#             scripts/monitoring-check.sh against this fleet (no dead panel: every metric the
#             dashboards and rules name is exported, after the journeys);
#   down      `down --volumes` (also on failure or Ctrl-C), and the timings of each phase.
#
# Environment:
#   FLEET_BIN_DIR       a directory with prebuilt user-service ... notification-service,
#                       storefront and e2e-flow (skips cargo);
#   SMOKE_PROFILE       release (default) or debug: what cargo builds without FLEET_BIN_DIR;
#   SMOKE_PORT_OFFSET   host port = contract port + this (default 10000: user-service on 18080,
#                       PostgreSQL on 25432, Prometheus on 19090, the balancer's page on 18404),
#                       so that a fleet already running on the contract's ports is left alone;
#   SMOKE_REPLICAS      replicas of each service and of the storefront (default 2; the replicas
#                       phase needs two);
#   SMOKE_KEEP=1        leave the fleet running at the end (`docker-compose -p ticketing-smoke
#                       down -v` removes it);
#   READY_TIMEOUT       seconds to wait for each /ready (default 120).
set -euo pipefail

SCRIPT_NAME="scripts/compose-smoke.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

# shellcheck source=scripts/lib/tools.sh
source "$REPO/scripts/lib/tools.sh"

SMOKE_PROFILE="${SMOKE_PROFILE:-release}"
SMOKE_PORT_OFFSET="${SMOKE_PORT_OFFSET:-10000}"
READY_TIMEOUT="${READY_TIMEOUT:-120}"
PROJECT="ticketing-smoke"
CACHE_DIR="$TOOLS_DIR/docker"
# Bump when the base's recipe (variant, packages, clean-up) changes: a new tag, a new tarball.
BASE_RECIPE=1
FLEET_IMAGE="ticketing:smoke"
POSTGRES_IMAGE="ticketing-local/postgres:15"
PROMETHEUS_IMAGE="ticketing-local/prometheus:debian"
HAPROXY_IMAGE="ticketing-local/haproxy:debian"
SMOKE_REPLICAS="${SMOKE_REPLICAS:-2}"
[[ "$SMOKE_REPLICAS" =~ ^[1-6]$ ]] || { echo "SMOKE_REPLICAS must be 1 to 6" >&2; exit 2; }

SERVICES=(user-service catalog-service seating-service order-service payment-service
    notification-service)
# Deployed as the services are, but no database (its /ready stays 200 without PostgreSQL) and no
# part of e2e-flow's journey: only the phases that start, balance and scrape it name it.
FLEET=("${SERVICES[@]}" storefront)
declare -A CONTRACT_PORT=(
    [user-service]=8080 [catalog-service]=3002 [seating-service]=4000
    [order-service]=3007 [payment-service]=3004 [notification-service]=3005 [storefront]=8000
)
declare -A HOST_PORT=()
for s in "${FLEET[@]}"; do
    HOST_PORT[$s]=$((CONTRACT_PORT[$s] + SMOKE_PORT_OFFSET))
done
POSTGRES_HOST_PORT=$((15432 + SMOKE_PORT_OFFSET))
PROMETHEUS_HOST_PORT=$((9090 + SMOKE_PORT_OFFSET))
BALANCER_STATS_HOST_PORT=$((8404 + SMOKE_PORT_OFFSET))

# ---------------------------------------------------------------------------------------------
# Phases and their timings
# ---------------------------------------------------------------------------------------------

STARTED=$SECONDS
PHASE=""
PHASE_STARTED=$SECONDS
PHASE_NAMES=()
PHASE_SECONDS=()

end_phase() {
    if [[ -n "$PHASE" ]]; then
        PHASE_NAMES+=("$PHASE")
        PHASE_SECONDS+=($((SECONDS - PHASE_STARTED)))
        log "phase $PHASE: $((SECONDS - PHASE_STARTED))s"
        PHASE=""
    fi
}

phase() {
    end_phase
    PHASE="$1"
    PHASE_STARTED=$SECONDS
    printf '\n== %s: %s\n' "$1" "$2" >&2
}

print_timings() {
    end_phase
    local i
    printf '\n%s: timings\n' "$SCRIPT_NAME" >&2
    for i in "${!PHASE_NAMES[@]}"; do
        printf '  %-10s %4ss\n' "${PHASE_NAMES[$i]}" "${PHASE_SECONDS[$i]}" >&2
    done
    printf '  %-10s %4ss\n' total "$((SECONDS - STARTED))" >&2
}

SKIPPED=""

skip() {
    SKIPPED="$*"
    printf '\n*** SKIPPED: no Docker engine (%s) ***\n' "$*" >&2
    printf '*** docker-compose.yml was linted, but not started. ***\n\n' >&2
    exit 0
}

# ---------------------------------------------------------------------------------------------
# Clean-up: whatever happens, the fleet goes down with its volumes, and a dockerd this script
# started is stopped.
# ---------------------------------------------------------------------------------------------

WORK=""
COMPOSE_STARTED=""
DOCKERD_PID=""

# compose ARGS — docker-compose on the smoke's project, without its progress lines (the script
# says what happens; errors still show).
compose() {
    docker-compose --progress quiet -p "$PROJECT" -f "$REPO/docker-compose.yml" \
        -f "$WORK/compose.smoke.yml" "$@"
}

cleanup() {
    local status=$?
    set +e
    if [[ -n "$COMPOSE_STARTED" ]]; then
        if ((status != 0)); then
            log "failed: the fleet as it stands, and the end of each log"
            compose ps -a >&2
            compose logs --no-color --tail 30 >&2
        fi
        if [[ -n "${SMOKE_KEEP:-}" ]]; then
            log "SMOKE_KEEP: the fleet keeps running (project $PROJECT)"
        else
            phase down "the fleet stops; containers, network and volumes are removed"
            compose down --volumes --remove-orphans --timeout 45 >&2
        fi
    fi
    if [[ -n "$WORK" ]]; then
        rm -rf "$WORK"
    fi
    if [[ -n "$DOCKERD_PID" && -z "${SMOKE_KEEP:-}" ]]; then
        log "stopping the dockerd this script started (pid $DOCKERD_PID)"
        kill "$DOCKERD_PID" 2>/dev/null
        wait "$DOCKERD_PID" 2>/dev/null
    fi
    print_timings
    if [[ -n "$SKIPPED" ]]; then
        printf '%s: SKIPPED: no Docker engine (%s)\n' "$SCRIPT_NAME" "$SKIPPED" >&2
    elif ((status == 0)); then
        log "PASSED"
    else
        log "FAILED (exit $status)"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# A command that fails outside a condition names itself before the script stops.
trap 'log "failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

is_root() {
    [[ "$(id -u)" == 0 ]]
}

apt_install() {
    is_root || return 1
    command -v apt-get >/dev/null 2>&1 || return 1
    log "apt-get install $*"
    # Another check may be installing its tools: wait for its lock rather than fail.
    local apt=(apt-get -o DPkg::Lock::Timeout=600 -q)
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "$@" \
        >"$WORK/apt.log" 2>&1; then
        # The package lists may be missing or stale: refresh them once.
        "${apt[@]}" update >>"$WORK/apt.log" 2>&1 || true
        DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "$@" \
            >>"$WORK/apt.log" 2>&1 || {
            tail -n 20 "$WORK/apt.log" >&2
            return 1
        }
    fi
}

# http_status URL — the status code of a GET, or 000 when nothing answers.
http_status() {
    curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" || true
}

# http_type URL — "STATUS CONTENT-TYPE" of a GET ("000 " when nothing answers).
http_type() {
    curl -s -o /dev/null -m 10 -w '%{http_code} %{content_type}' "$1" || true
}

# build IMAGE DOCKERFILE CONTEXT — docker build on the base; its output is shown only on failure
# (the legacy builder's deprecation notice included: these machines have no buildx).
build() {
    if ! docker build --build-arg "BASE_IMAGE=$BASE_IMAGE" -f "$2" -t "$1" "$3" \
        >"$WORK/build.log" 2>&1; then
        tail -n 40 "$WORK/build.log" >&2
        die "docker build of $1 failed"
    fi
}

port_taken() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_ready SERVICE — until GET /ready on its published port answers 200.
wait_ready() {
    local service="$1" url="http://127.0.0.1:${HOST_PORT[$1]}/ready" since=$SECONDS status
    while true; do
        status="$(http_status "$url")"
        if [[ "$status" == 200 ]]; then
            log "$service ready after $((SECONDS - since))s ($url)"
            return 0
        fi
        if ((SECONDS - since >= READY_TIMEOUT)); then
            log "$service not ready after ${READY_TIMEOUT}s: $url answers $status"
            return 1
        fi
        sleep 1
    done
}

# container_of SERVICE — its containers' ids, one a line (a replica each).
container_of() {
    compose ps -q "$1"
}

# healthy_replicas SERVICE — how many of its containers Docker counts healthy.
healthy_replicas() {
    docker ps -q --filter "label=com.docker.compose.project=$PROJECT" \
        --filter "label=com.docker.compose.service=$1" --filter health=healthy | wc -l
}

# balancer_up SERVICE — how many of its replicas the balancer counts up (its stats page, CSV;
# field 18 is the status: UP, DOWN, MAINT for an empty slot).
balancer_up() {
    { curl -s -m 5 "http://127.0.0.1:$BALANCER_STATS_HOST_PORT/;csv" || true; } \
        | awk -F, -v backend="$1" '
        $1 == backend && $2 != "BACKEND" && $2 != "FRONTEND" && $18 ~ /^UP/ { n++ }
        END { print n + 0 }'
}

# balancer_retries SERVICE — "R retries, D redispatches": the balancer's counts for the service
# (its BACKEND line, fields 16 and 17): connections that failed and were tried again, and those
# tried again on another replica.
balancer_retries() {
    { curl -s -m 5 "http://127.0.0.1:$BALANCER_STATS_HOST_PORT/;csv" || true; } \
        | awk -F, -v backend="$1" '
        $1 == backend && $2 == "BACKEND" { r = $16; d = $17 }
        END { printf "%d retries, %d redispatches", r, d }'
}

# wait_balanced SERVICE N — until the balancer counts N replicas of SERVICE up.
wait_balanced() {
    local since=$SECONDS up
    while true; do
        up="$(balancer_up "$1")"
        ((up == $2)) && return 0
        if ((SECONDS - since >= READY_TIMEOUT)); then
            log "the balancer counts $up replicas of $1 up after ${READY_TIMEOUT}s, not $2"
            return 1
        fi
        sleep 0.5
    done
}

# show_balancer SERVICE... — what the balancer counts up, one line per service.
show_balancer() {
    local s
    for s in "$@"; do
        printf '    %-22s %s of %s replicas up in the balancer\n' "$s" "$(balancer_up "$s")" \
            "$SMOKE_REPLICAS" >&2
    done
}

# debian_mirror SUITE — the first deb URI of this machine's apt sources that serves SUITE.
debian_mirror() {
    local suite="$1" f
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -r "$f" ]] || continue
        awk -v suite="$suite" '
            BEGIN { RS = ""; FS = "\n" }
            {
                uris = ""; suites = ""; types = ""
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); uris = $i }
                    if ($i ~ /^Suites:/) { sub(/^Suites:[ \t]*/, "", $i); suites = " " $i " " }
                    if ($i ~ /^Types:/) { types = " " $i " " }
                }
                if (types ~ / deb / && index(suites, " " suite " ") > 0) {
                    split(uris, u, /[ \t]+/); print u[1]
                }
            }' "$f"
    done
    { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } \
        | awk -v suite="$suite" '
        $1 == "deb" {
            i = 2
            if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
            if ($(i + 1) == suite) print $i
        }'
}

# first_line — the first line of the input (reading all of it: no SIGPIPE for the writer).
first_line() {
    sed -n 1p
}

# ---------------------------------------------------------------------------------------------
# The phases
# ---------------------------------------------------------------------------------------------

WORK="$(mktemp -d "${TMPDIR:-/tmp}/compose-smoke.XXXXXX")"
chmod 0755 "$WORK"

phase lint "hadolint and docker-compose config (scripts/lint-docker.sh)"
bash "$REPO/scripts/lint-docker.sh"
ensure_docker_tools

phase engine "a Docker engine"
if ! command -v curl >/dev/null 2>&1; then
    apt_install curl || die "curl is needed to probe the published ports"
fi
if ! docker info >/dev/null 2>&1; then
    if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
        if ! is_root; then
            skip "no Docker here, and not root to install Debian's docker.io"
        fi
        apt_install docker.io || skip "apt-get install docker.io failed"
    fi
    if ! docker info >/dev/null 2>&1; then
        is_root || skip "dockerd is not running, and only root may start it"
        log "starting dockerd in the background (log: $CACHE_DIR/dockerd.log)"
        mkdir -p "$CACHE_DIR"
        dockerd >"$CACHE_DIR/dockerd.log" 2>&1 &
        DOCKERD_PID=$!
        for _ in $(seq 1 60); do
            docker info >/dev/null 2>&1 && break
            kill -0 "$DOCKERD_PID" 2>/dev/null || break
            sleep 0.5
        done
        if ! docker info >/dev/null 2>&1; then
            tail -n 20 "$CACHE_DIR/dockerd.log" >&2
            kill "$DOCKERD_PID" 2>/dev/null || true
            DOCKERD_PID=""
            skip "dockerd did not come up (its log above)"
        fi
    fi
fi
log "engine: Docker $(docker version --format '{{.Server.Version}}'), $(docker-compose version)"
# A smoke run that was killed may have left its fleet behind.
docker-compose -p "$PROJECT" down --volumes --remove-orphans --timeout 5 >/dev/null 2>&1 || true
for port in "${HOST_PORT[@]}" "$POSTGRES_HOST_PORT" "$PROMETHEUS_HOST_PORT" \
    "$BALANCER_STATS_HOST_PORT"; do
    if port_taken "$port"; then
        die "127.0.0.1:$port is taken; choose other host ports with SMOKE_PORT_OFFSET"
    fi
done

phase binaries "the six services, the storefront and e2e-flow"
BINARIES=("${FLEET[@]}" e2e-flow)
if [[ -n "${FLEET_BIN_DIR:-}" ]]; then
    BIN_DIR="$(cd "$FLEET_BIN_DIR" && pwd)"
    log "prebuilt binaries from FLEET_BIN_DIR=$BIN_DIR"
else
    case "$SMOKE_PROFILE" in
        release) cargo_profile=release profile_dir=release ;;
        debug | dev) cargo_profile=dev profile_dir=debug ;;
        *) die "SMOKE_PROFILE must be release or debug, not '$SMOKE_PROFILE'" ;;
    esac
    command -v cargo >/dev/null 2>&1 || die "cargo not found (or set FLEET_BIN_DIR)"
    packages=()
    for b in "${BINARIES[@]}"; do
        packages+=(-p "$b")
    done
    log "cargo build --locked --profile $cargo_profile ${packages[*]}"
    cargo build --locked --profile "$cargo_profile" "${packages[@]}"
    BIN_DIR="$(cd "${CARGO_TARGET_DIR:-$REPO/target}/$profile_dir" && pwd)"
fi
for b in "${BINARIES[@]}"; do
    [[ -x "$BIN_DIR/$b" ]] || die "$BIN_DIR/$b is missing"
done
# The binaries may ask only for libraries that every Debian base has, and for a glibc no newer
# than the base's (checked again inside the image, with the base's own ldd).
libraries="$(for b in "${FLEET[@]}"; do ldd "$BIN_DIR/$b"; done \
    | awk '$1 !~ /^linux-vdso/ { sub(/.*\//, "", $1); print $1 }' | sort -u | tr '\n' ' ')"
log "dynamic libraries: $libraries"
for lib in $libraries; do
    case "$lib" in
        libc.so.6 | libm.so.6 | libgcc_s.so.1 | libpthread.so.0 | libdl.so.2 | librt.so.1 \
            | ld-linux-x86-64.so.2 | ld-linux-aarch64.so.1) ;;
        *) die "a binary needs $lib, which the runtime image does not carry" ;;
    esac
done
GLIBC_NEEDED="$(for b in "${FLEET[@]}"; do grep -aoE 'GLIBC_2\.[0-9]+' "$BIN_DIR/$b"; done \
    | sort -u -V | tail -n 1)"
log "newest glibc symbol version asked for: ${GLIBC_NEEDED:-none}"

phase base "a Debian root file system, imported as an image (debootstrap; cached)"
# shellcheck disable=SC1091 # the machine's own
SUITE="${DEBIAN_SUITE:-$(. /etc/os-release && [[ "${ID:-}" == debian ]] && echo "${VERSION_CODENAME:-}")}"
[[ -n "$SUITE" ]] || die "not a Debian machine: set DEBIAN_SUITE to a suite whose glibc is at least this machine's"
BASE_IMAGE="ticketing-local/debian:$SUITE-r$BASE_RECIPE"
BASE_TARBALL="$CACHE_DIR/debian-$SUITE-minbase-r$BASE_RECIPE.tar"
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "$BASE_IMAGE is in the engine already"
else
    if [[ ! -s "$BASE_TARBALL" ]]; then
        is_root || die "debootstrap needs root (run the smoke as root once; the image is then cached)"
        command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap \
            || die "apt-get install debootstrap failed"
        mirror="$(debian_mirror "$SUITE" | first_line)"
        if [[ -z "$mirror" ]]; then
            mirror="http://deb.debian.org/debian"
            log "no apt source of this machine serves $SUITE; using $mirror"
        fi
        security="$(debian_mirror "$SUITE-security" | first_line)"
        updates="$(debian_mirror "$SUITE-updates" | first_line)"
        rootfs="$CACHE_DIR/rootfs-$SUITE.tmp"
        rm -rf "$rootfs"
        mkdir -p "$CACHE_DIR"
        log "debootstrap --variant=minbase $SUITE from $mirror (about a minute)"
        if ! debootstrap --variant=minbase --include=ca-certificates,busybox-static \
            "$SUITE" "$rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1; then
            tail -n 30 "$WORK/debootstrap.log" >&2
            rm -rf "$rootfs"
            die "debootstrap failed"
        fi
        {
            echo "deb $mirror $SUITE main"
            [[ -z "$updates" ]] || echo "deb $updates $SUITE-updates main"
            [[ -z "$security" ]] || echo "deb $security $SUITE-security main"
        } >"$rootfs/etc/apt/sources.list"
        # What the image needs no copy of: downloaded packages, package lists, documentation.
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
            "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
            "$rootfs"/usr/share/info/* "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*
        printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\n' \
            >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-nodoc"
        tar --numeric-owner -C "$rootfs" -cf "$BASE_TARBALL.tmp" .
        mv "$BASE_TARBALL.tmp" "$BASE_TARBALL"
        rm -rf "$rootfs"
    else
        log "root file system from the cache: $BASE_TARBALL"
    fi
    docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        "$BASE_TARBALL" "$BASE_IMAGE" >/dev/null
    log "imported $BASE_IMAGE"
fi
base_glibc="$(docker run --rm "$BASE_IMAGE" dpkg-query -W -f '${Version}' libc6)"
log "$BASE_IMAGE: glibc $base_glibc"
if [[ -n "$GLIBC_NEEDED" ]]; then
    have="${base_glibc%%-*}"
    need="${GLIBC_NEEDED#GLIBC_}"
    if [[ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | tail -n 1)" != "$have" ]]; then
        die "the binaries need glibc $need; $SUITE has $have (choose a newer DEBIAN_SUITE)"
    fi
fi

phase images "the fleet, PostgreSQL, HAProxy and Prometheus, built on the base"
context="$WORK/fleet-context"
mkdir -p "$context/bin"
for b in "${FLEET[@]}"; do
    # As ../Dockerfile does: debug information out, symbols kept.
    if command -v strip >/dev/null 2>&1; then
        strip --strip-debug -o "$context/bin/$b" "$BIN_DIR/$b"
    else
        cp "$BIN_DIR/$b" "$context/bin/$b"
    fi
done
build "$FLEET_IMAGE" "$REPO/docker/runtime-local.Dockerfile" "$context"
# The fleet image of an earlier run with other binaries, now untagged, is of no further use.
docker image prune --force --filter "label=org.opencontainers.image.title=ticketing" >/dev/null
log "$FLEET_IMAGE: $(docker image inspect -f '{{.Size}}' "$FLEET_IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
# Inside the image, with its own loader: every library found, the uid the contract agreed.
check="$(docker run --rm --entrypoint /bin/sh "$FLEET_IMAGE" -c \
    'id -u; for b in /usr/local/bin/*-service /usr/local/bin/storefront; do ldd "$b"; done')"
if grep -q 'not found' <<<"$check"; then
    grep 'not found' <<<"$check" >&2
    die "$FLEET_IMAGE: a binary does not find its libraries"
fi
[[ "$(head -n 1 <<<"$check")" == 10001 ]] || die "$FLEET_IMAGE does not run as uid 10001"
log "$FLEET_IMAGE: runs as uid 10001; every binary finds its libraries"
build "$POSTGRES_IMAGE" "$REPO/docker/postgres-local.Dockerfile" "$REPO/docker"
log "$POSTGRES_IMAGE: $(docker run --rm --entrypoint postgres "$POSTGRES_IMAGE" --version)"
build "$HAPROXY_IMAGE" "$REPO/docker/haproxy-local.Dockerfile" "$REPO/docker"
# The balancer's configuration, checked by the HAProxy that will run it.
docker run --rm --read-only -v "$REPO/docker/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" \
    "$HAPROXY_IMAGE" -c -q -f /usr/local/etc/haproxy/haproxy.cfg \
    || die "HAProxy refuses docker/haproxy.cfg"
log "$HAPROXY_IMAGE: $(docker run --rm "$HAPROXY_IMAGE" -v | head -n 1); docker/haproxy.cfg is valid"
WITH_PROMETHEUS=""
if [[ -f "$REPO/monitoring/prometheus.yml" ]]; then
    build "$PROMETHEUS_IMAGE" "$REPO/docker/prometheus-local.Dockerfile" "$REPO/docker"
    log "$PROMETHEUS_IMAGE: $(docker run --rm "$PROMETHEUS_IMAGE" --version 2>&1 | head -n 1)"
    WITH_PROMETHEUS=1
else
    log "no monitoring/prometheus.yml in this checkout: Prometheus is left out"
fi

phase up "PostgreSQL, $SMOKE_REPLICAS replicas of each of the six services and the storefront, the balancer (profile ui, Grafana and Mailpit, left out: registry-only)"
MAIL_DIR_HOST="$WORK/mail"
mkdir -p "$MAIL_DIR_HOST"
chown 10001:10001 "$MAIL_DIR_HOST" 2>/dev/null || chmod 0777 "$MAIL_DIR_HOST"
{
    echo "# Written by scripts/compose-smoke.sh: the registry's images swapped for local ones."
    echo "services:"
    echo "  postgres:"
    echo "    image: $POSTGRES_IMAGE"
    echo "    pull_policy: never"
    echo "  prometheus:"
    echo "    image: $PROMETHEUS_IMAGE"
    echo "    pull_policy: never"
    echo "  balancer:"
    echo "    image: $HAPROXY_IMAGE"
    echo "    pull_policy: never"
    for s in "${FLEET[@]}"; do
        echo "  $s:"
        echo "    image: $FLEET_IMAGE"
        echo "    pull_policy: never"
        if [[ "$s" == notification-service ]]; then
            # Mailpit is registry-only: the e-mails go to .eml files, which e2e-flow reads.
            echo "    environment:"
            echo "      SMTP_URL: \"\""
            echo "      MAIL_DIR: /mail"
            echo "    volumes:"
            echo "      - $MAIL_DIR_HOST:/mail"
        fi
    done
} >"$WORK/compose.smoke.yml"
export POSTGRES_HOST_PORT PROMETHEUS_HOST_PORT BALANCER_STATS_HOST_PORT
for s in "${FLEET[@]}"; do
    var="$(tr 'a-z-' 'A-Z_' <<<"$s")"
    export "${var}_HOST_PORT=${HOST_PORT[$s]}" "${var}_REPLICAS=$SMOKE_REPLICAS"
done
up_services=(postgres balancer "${FLEET[@]}")
[[ -z "$WITH_PROMETHEUS" ]] || up_services+=(prometheus)
log "left out: grafana and mailpit (profile ui; registry-only images, none built here)"
log "so notification-service writes its e-mails as .eml files into $MAIL_DIR_HOST, not to Mailpit"
COMPOSE_STARTED=1
# --wait: every container running, and healthy where it has a healthcheck (the busybox probe of
# /ready inside each service's container, as Compose sees it).
compose up --detach --no-build --wait --wait-timeout "$READY_TIMEOUT" "${up_services[@]}" >&2
log "all containers healthy; /ready on the published ports (the balancer's):"
for s in "${FLEET[@]}"; do
    wait_ready "$s" || die "$s did not become ready"
done
log "every replica healthy (Docker's probe) and up in the balancer (its checks of /ready):"
for s in "${FLEET[@]}"; do
    wait_balanced "$s" "$SMOKE_REPLICAS" || die "the balancer does not count every replica of $s up"
    healthy="$(healthy_replicas "$s")"
    ((healthy == SMOKE_REPLICAS)) || die "$s: $healthy healthy containers, not $SMOKE_REPLICAS"
    printf '    %-22s %s containers healthy, %s up in the balancer\n' "$s" "$healthy" \
        "$(balancer_up "$s")" >&2
done
compose ps --format 'table {{.Name}}\t{{.Status}}\t{{.Ports}}' >&2
SHOP="http://127.0.0.1:${HOST_PORT[storefront]}"
# The shop through the balancer: its home page (the catalog's events on sale; none yet).
shop_page="$(http_type "$SHOP/")"
[[ "$shop_page" == "200 text/html"* ]] \
    || die "the storefront's / answered '$shop_page', not 200 text/html"
log "the storefront's home page: $shop_page ($SHOP/)"

E2E_ARGS=()
for s in "${SERVICES[@]}"; do
    E2E_ARGS+=("--${s%-service}-url" "http://127.0.0.1:${HOST_PORT[$s]}")
done
E2E_ARGS+=(--mail-dir "$MAIL_DIR_HOST")

# e2e NAME — the journey once; its narration goes to the terminal and to $WORK/NAME.log.
e2e() {
    "$BIN_DIR/e2e-flow" "${E2E_ARGS[@]}" --log "$WORK/$1.log" >"$WORK/$1.out" 2>&1
}

phase journey "e2e-flow against the published ports (the balancer)"
if ! e2e journey; then
    cat "$WORK/journey.out" >&2
    die "the journey failed"
fi
cat "$WORK/journey.out" >&2
log "receipts written by notification-service: $(find "$MAIL_DIR_HOST" -name '*.eml' | wc -l)"
# The shop shows the journey's event (e2e-flow's "Fado at Night"): its card on the home page
# links its page, which draws its seat map from catalog and seating through the balancer.
event_id="$({ curl -s -m 10 "$SHOP/" || true; } \
    | { grep -oE 'href="/events/[0-9a-f-]{36}">Fado at Night<' || true; } \
    | first_line | cut -c15-50)"
[[ -n "$event_id" ]] || die "the storefront's home page does not list the journey's event"
shop_page="$(http_type "$SHOP/events/$event_id")"
[[ "$shop_page" == "200 text/html"* ]] \
    || die "the storefront's page of the journey's event answered '$shop_page'"
log "the storefront lists the journey's event; its page: $shop_page ($SHOP/events/$event_id)"

if ((SMOKE_REPLICAS >= 2)); then
    phase replicas "one replica each of order-service and seating-service killed; the journey again"
    killed=()
    for s in order-service seating-service; do
        c="$(container_of "$s" | first_line)"
        docker kill "$c" >/dev/null
        killed+=("$c")
        log "docker kill $(docker inspect -f '{{.Name}}' "$c" | tr -d /) (SIGKILL: no graceful shutdown)"
    done
    # At once, before the balancer's checks can have noticed. Docker's DNS forgets a killed
    # container at once and the balancer re-resolves every second, so it usually takes the replica
    # out before a request reaches it; a connection that does reach the dead replica fails and is
    # sent to the other one (redispatch). The counts below say which happened.
    if ! e2e replicas; then
        cat "$WORK/replicas.out" >&2
        die "the journey failed with one replica of order-service and of seating-service killed"
    fi
    log "the journey passes on the replicas left: $(grep -v '^\s*$' "$WORK/replicas.out" | tail -n 1)"
    for s in order-service seating-service; do
        printf '    %-22s %s of %s replicas up in the balancer; %s\n' "$s" "$(balancer_up "$s")" \
            "$SMOKE_REPLICAS" "$(balancer_retries "$s")" >&2
    done
    for c in "${killed[@]}"; do
        # A container stopped by `docker kill` is not restarted by `restart: unless-stopped`.
        if [[ "$(docker inspect -f '{{.State.Running}}' "$c")" == true ]]; then
            log "$(docker inspect -f '{{.Name}}' "$c" | tr -d /) was restarted by Docker"
        else
            docker start "$c" >/dev/null
            log "docker start $(docker inspect -f '{{.Name}}' "$c" | tr -d /)"
        fi
    done
    for s in order-service seating-service; do
        wait_balanced "$s" "$SMOKE_REPLICAS" || die "the killed replica of $s did not come back"
    done
    show_balancer order-service seating-service
fi

phase outage "PostgreSQL, then seating-service (every replica), stopped and started again"
show_ready() {
    local s status
    for s in "$@"; do
        status="$(http_status "http://127.0.0.1:${HOST_PORT[$s]}/ready")"
        [[ "$status" != 000 ]] || status="no answer (stopped)"
        printf '    %-22s /ready -> %s\n' "$s" "$status" >&2
    done
}

postgres_container="$(container_of postgres)"
log "docker stop $PROJECT postgres"
docker stop "$postgres_container" >/dev/null
sleep 1
log "with PostgreSQL down, every service's /ready (the contract: 503 when its database does not answer):"
show_ready "${SERVICES[@]}"
for s in "${SERVICES[@]}"; do
    status="$(http_status "http://127.0.0.1:${HOST_PORT[$s]}/ready")"
    [[ "$status" == 503 ]] || die "$s /ready answered $status with its database down, not 503"
done
show_balancer "${SERVICES[@]}"
docker start "$postgres_container" >/dev/null
log "PostgreSQL started again"
for s in "${SERVICES[@]}"; do
    wait_ready "$s" || die "$s did not recover from the database outage"
    wait_balanced "$s" "$SMOKE_REPLICAS" || die "a replica of $s did not recover from the database outage"
done
log "every replica of every service ready again"

mapfile -t seating_containers < <(container_of seating-service)
log "docker stop $PROJECT seating-service, its ${#seating_containers[@]} replicas (SIGTERM; graceful shutdown)"
stop_started=$SECONDS
docker stop --time 45 "${seating_containers[@]}" >/dev/null
log "seating-service stopped in $((SECONDS - stop_started))s, exit codes $(docker inspect -f '{{.State.ExitCode}}' "${seating_containers[@]}" | tr '\n' ' ')"
log "with seating-service down (the balancer answers 503 for it: no replica up), its callers' /ready (the contract: readiness is their own database and tasks only):"
show_ready seating-service catalog-service order-service
if e2e outage; then
    cat "$WORK/outage.out" >&2
    die "the journey passed with seating-service stopped"
fi
log "the journey with seating-service stopped fails, as it must; its last lines:"
grep -v '^\s*$' "$WORK/outage.out" | tail -n 4 | sed 's/^/    /' >&2
docker start "${seating_containers[@]}" >/dev/null
log "seating-service started again"
wait_ready seating-service || die "seating-service did not come back"
wait_balanced seating-service "$SMOKE_REPLICAS" || die "a replica of seating-service did not come back"
if ! e2e recovered; then
    cat "$WORK/recovered.out" >&2
    die "the journey did not recover after seating-service came back"
fi
log "the journey passes again: $(grep -v '^\s*$' "$WORK/recovered.out" | tail -n 1)"

if [[ -n "$WITH_PROMETHEUS" ]]; then
    phase metrics "Prometheus scrapes every replica of the six services and the storefront"
    targets_url="http://127.0.0.1:$PROMETHEUS_HOST_PORT/api/v1/targets?state=active"
    # prometheus_targets — one line per service: its targets up of all, and their instances
    # (replicas' addresses, found in Docker's DNS); exit 0 when each has SMOKE_REPLICAS, all up.
    prometheus_targets() {
        { curl -s -m 5 "$targets_url" || true; } | python3 -c '
import json, sys
want, services = int(sys.argv[1]), sys.argv[2:]
try:
    active = json.load(sys.stdin)["data"]["activeTargets"]
except (ValueError, KeyError):
    print("    Prometheus does not answer yet")
    sys.exit(1)
ok = True
for service in services:
    mine = [t for t in active if t["labels"].get("job") == service]
    up = [t for t in mine if t["health"] == "up"]
    where = " ".join(sorted(t["labels"]["instance"] + ":" + t["health"] for t in mine))
    print("    %-22s %d of %d targets up (%s)" % (service, len(up), len(mine), where))
    ok = ok and len(up) == len(mine) == want
    ok = ok and all(t["labels"]["instance"].split(":")[0][0].isdigit() for t in mine)
sys.exit(0 if ok else 1)
' "$SMOKE_REPLICAS" "${FLEET[@]}"
    }
    since=$SECONDS
    until prometheus_targets >"$WORK/targets.txt"; do
        if ((SECONDS - since >= 90)); then
            cat "$WORK/targets.txt" >&2
            die "Prometheus does not scrape $SMOKE_REPLICAS replicas of every service, all up"
        fi
        sleep 2
    done
    log "Prometheus scrapes each replica as its own target (not the balancer), every one up, after $((SECONDS - since))s:"
    cat "$WORK/targets.txt" >&2
    rules="$(curl -s -m 5 "http://127.0.0.1:$PROMETHEUS_HOST_PORT/api/v1/rules" || true)"
    groups="$(grep -oE '"file":"[^"]*"' <<<"$rules" | sort -u | wc -l)"
    alerting="$(grep -oE '"type":"alerting"' <<<"$rules" | wc -l)"
    recording="$(grep -oE '"type":"recording"' <<<"$rules" | wc -l)"
    log "Prometheus loaded monitoring/rules: $groups files, $alerting alerts, $recording recording rules"
    if [[ -f "$REPO/scripts/monitoring-check.sh" ]]; then
        # The dashboards' and rules' "no dead panel" check, against this fleet after its journeys:
        # every metric they name is exported by the service they select.
        urls=()
        for s in "${FLEET[@]}"; do
            urls+=("$(tr 'a-z-' 'A-Z_' <<<"$s")_URL=http://127.0.0.1:${HOST_PORT[$s]}")
        done
        log "scripts/monitoring-check.sh against this fleet (no dead panel)"
        # Through the balancer one scrape reaches one replica: four, united, reach both.
        env "${urls[@]}" METRICS_SCRAPES=4 bash "$REPO/scripts/monitoring-check.sh" \
            >"$WORK/monitoring.log" 2>&1 || {
            cat "$WORK/monitoring.log" >&2
            die "scripts/monitoring-check.sh failed against the Compose fleet"
        }
        grep -v '^\s*$' "$WORK/monitoring.log" | tail -n 3 | sed 's/^/    /' >&2
    fi
fi

end_phase
log "docker-compose.yml works: ${#SERVICES[@]} services and the storefront x $SMOKE_REPLICAS replicas ready behind the balancer, the journey passed (also with replicas killed), the shop showed its event, outages recovered"
