#!/usr/bin/env bash
# Runs the whole test suite (or TEST_TARGET=tests/X.Tests, with dotnet test arguments after) on a machine that has never seen the project: installs (apt, if
# missing) and starts every service the tests use, runs them, stops what it started.
#   Docker engine · CNCF registry on 127.0.0.1:5000 · PostgreSQL 15 · SMTP sink · Chromium
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
run=${TIAKI_TEST_RUN_DIR:-/tmp/tiaki-test}
mkdir -p "$run"
started=()

need_apt=()
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v docker-compose >/dev/null || need_apt+=(docker-compose)
command -v docker-registry >/dev/null || need_apt+=(docker-registry)
command -v skopeo >/dev/null || need_apt+=(skopeo)
[ -x /bin/busybox ] || need_apt+=(busybox-static)
command -v htpasswd >/dev/null || need_apt+=(apache2-utils)
command -v chromium >/dev/null || need_apt+=(chromium chromium-driver)
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || need_apt+=(python3-aiosmtpd)
command -v git >/dev/null || need_apt+=(git)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need_apt+=(postgresql-15)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing: ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >"$run/apt.log" 2>&1 \
    || { tail -20 "$run/apt.log"; exit 1; }
fi

cleanup() {
  set +e
  for s in "${started[@]}"; do
    case $s in
      dockerd) kill "$(cat "$run/dk/dockerd.pid" 2>/dev/null)" 2>/dev/null ;;
      postgres) runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$run/pg/data" -m immediate stop >/dev/null 2>&1 ;;
      *) kill "$s" 2>/dev/null ;;
    esac
  done
}
# TIAKI_KEEP_SERVICES=1 leaves them running for the next run (development).
[ "${TIAKI_KEEP_SERVICES:-}" = 1 ] || trap cleanup EXIT

# Docker engine (no init system here: start our own unless one answers).
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}
if ! docker version >/dev/null 2>&1; then
  echo "== starting dockerd"
  mkdir -p "$run/dk"
  dockerd --host="$DOCKER_HOST" --data-root="$run/dk/data" --exec-root="$run/dk/exec" \
    --pidfile="$run/dk/dockerd.pid" --bridge=none --iptables=false --ip-forward=false \
    --ip-masq=false >"$run/dk/dockerd.log" 2>&1 &
  started+=(dockerd)
  for _ in $(seq 1 120); do docker version >/dev/null 2>&1 && break; sleep 0.25; done
  docker version >/dev/null || { tail -20 "$run/dk/dockerd.log"; exit 1; }
fi

# Registry on 127.0.0.1:5000 (tests that need auth start their own on other ports).
export TIAKI_TEST_REGISTRY=127.0.0.1:5000
if ! curl -fsS http://$TIAKI_TEST_REGISTRY/v2/ >/dev/null 2>&1; then
  echo "== starting registry"
  mkdir -p "$run/reg"
  cat >"$run/reg/config.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $run/reg/data}, delete: {enabled: true}}
http: {addr: $TIAKI_TEST_REGISTRY}
YML
  docker-registry serve "$run/reg/config.yml" >"$run/reg/log" 2>&1 &
  started+=($!)
  for _ in $(seq 1 80); do curl -fsS http://$TIAKI_TEST_REGISTRY/v2/ >/dev/null 2>&1 && break; sleep 0.25; done
fi

# PostgreSQL 15 on 127.0.0.1:55432 (initdb refuses root: run as postgres).
export TIAKI_TEST_POSTGRES="Host=127.0.0.1;Port=55432;Username=postgres;Password=secret"
if ! PGPASSWORD=secret psql -h 127.0.0.1 -p 55432 -U postgres -c 'select 1' >/dev/null 2>&1; then
  echo "== starting postgresql"
  rm -rf "$run/pg"; mkdir -p "$run/pg"; chown postgres "$run/pg"
  echo secret >"$run/pg/pw"; chown postgres "$run/pg/pw"
  runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$run/pg/data" -U postgres --pwfile="$run/pg/pw" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$run/pg/initdb.log" 2>&1
  runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$run/pg/data" -l "$run/pg/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p 55432 -k $run/pg -c fsync=off -c max_connections=300" start >/dev/null
  started+=(postgres)
fi

# SMTP sink on 127.0.0.1:2525, writing a Maildir the tests read.
export TIAKI_TEST_SMTP=127.0.0.1:2525 TIAKI_TEST_MAILDIR=$run/mail/maildir
if ! (exec 3<>/dev/tcp/127.0.0.1/2525) 2>/dev/null; then
  echo "== starting smtp sink"
  mkdir -p "$run/mail"
  /usr/bin/python3 -m aiosmtpd -n -l $TIAKI_TEST_SMTP -c aiosmtpd.handlers.Mailbox "$TIAKI_TEST_MAILDIR" >"$run/mail/log" 2>&1 &
  started+=($!)
  for _ in $(seq 1 40); do (exec 3<>/dev/tcp/127.0.0.1/2525) 2>/dev/null && break; sleep 0.25; done
fi

export TIAKI_TEST_CHROMIUM=/usr/bin/chromium
echo "== services up; running tests"
log="$run/dotnet-test.$$.log"
set +e
dotnet test "${TEST_TARGET:-Tiaki.slnx}" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One plain closing line over every test project (VSTest prints one summary per project).
passed=0; failed=0; skipped=0
while read -r f p s; do
  failed=$((failed + f)); passed=$((passed + p)); skipped=$((skipped + s))
done < <(sed -n 's/.*Failed: *\([0-9]*\), Passed: *\([0-9]*\), Skipped: *\([0-9]*\).*/\1 \2 \3/p' "$log")
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$passed" -gt 0 ] || status=1
exit $status
