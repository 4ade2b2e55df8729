#!/usr/bin/env bash
# First run: the control plane on http://localhost:${PORT:-3001} and, when a Docker engine answers on
# this machine, a local Docker agent enrolled with a one-time token (two processes: the server
# itself knows nothing of Docker). Ctrl+C stops both. Data (SQLite, admin token, agent key) in ./data.
# TIAKI_LOCAL_AGENT=0 starts the control plane alone.
set -euo pipefail
cd "$(dirname "$0")/.."
export TIAKI_DATA_DIR=${TIAKI_DATA_DIR:-./data}
port=${PORT:-3001}
url="http://localhost:$port"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT INT TERM

# Build both first: two `dotnet run` building the shared projects at once would race.
dotnet build -nologo -v q src/Tiaki.Server >/dev/null
dotnet build -nologo -v q src/Tiaki.Agent.Docker >/dev/null
dotnet run --no-build --project src/Tiaki.Server &
pids+=($!)
for _ in $(seq 1 240); do curl -fsS "$url/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fsS "$url/healthz" >/dev/null || { echo "the control plane did not start" >&2; exit 1; }

if [ "${TIAKI_LOCAL_AGENT:-1}" = 0 ] || ! docker version >/dev/null 2>&1; then
  echo "== no Docker engine answers here (DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}): control plane only"
  wait "${pids[0]}"
  exit
fi

state="$TIAKI_DATA_DIR/agent"
mkdir -p "$state"
enroll=()
if [ ! -f "$state/credentials.json" ]; then
  admin=${ADMIN_TOKEN:-$(cat "$TIAKI_DATA_DIR/admin-token")}
  jwt=$(curl -fsS -H 'Content-Type: application/json' -d "{\"token\":\"$admin\"}" "$url/api/v1/auth/login" \
    | sed -n 's/.*"accessToken":"\([^"]*\)".*/\1/p')
  token=$(curl -fsS -H "Authorization: Bearer $jwt" -H 'Content-Type: application/json' -d '{"uses":1}' \
    "$url/api/v1/admin/enrollment-tokens" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  [ -n "$token" ] || { echo "could not create an enrollment token for the local agent" >&2; exit 1; }
  enroll=(TIAKI_ENROLLMENT_TOKEN="$token")
fi
echo "== starting the local Docker agent ($(hostname))"
env "${enroll[@]}" CONTROL_URL="$url" AGENT_NAME="${AGENT_NAME:-$(hostname)}" AGENT_STATE_DIR="$state" \
  SCAN_INTERVAL="${AGENT_SCAN_INTERVAL:-5m}" dotnet run --no-build --project src/Tiaki.Agent.Docker &
pids+=($!)
wait -n "${pids[@]}"
