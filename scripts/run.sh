#!/usr/bin/env bash
# Runs the control plane (SQLite under ./data, admin token generated and printed once) and, when a
# Docker engine answers on this machine, a local Docker agent enrolled automatically. Two processes:
# the server itself knows nothing of Docker. Ctrl-C stops both.
#   PORT (default 3001) · TIAKI_DATA_DIR (default ./data) · TIAKI_LOCAL_AGENT=0 to start the server alone
set -euo pipefail
cd "$(dirname "$0")/.."
export PORT=${PORT:-3001}
export TIAKI_DATA_DIR=${TIAKI_DATA_DIR:-$(pwd)/data}
mkdir -p "$TIAKI_DATA_DIR"
url="http://127.0.0.1:$PORT"

dotnet build -v q -nologo src/Tiaki.Server src/Tiaki.Agent.Docker >/dev/null

pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
dotnet run --no-build --project src/Tiaki.Server &
pids+=($!)
until curl -fsS "$url/healthz" >/dev/null 2>&1; do
  kill -0 "${pids[0]}" 2>/dev/null || { echo "the control plane did not start" >&2; exit 1; }
  sleep 0.5
done

docker_up() {
  if command -v docker >/dev/null; then docker version >/dev/null 2>&1
  else [ -S "${DOCKER_HOST#unix://}" ] || [ -S /var/run/docker.sock ]; fi
}
state="$TIAKI_DATA_DIR/local-agent"
if [ "${TIAKI_LOCAL_AGENT:-1}" != 0 ] && docker_up; then
  mkdir -p "$state"
  token=""
  if [ ! -s "$state/credentials.json" ]; then
    # First start: enroll through the admin API like any other agent would be.
    admin=${ADMIN_TOKEN:-$(cat "$TIAKI_DATA_DIR/admin-token")}
    jwt=$(curl -fsS -H 'content-type: application/json' -d "{\"token\":\"$admin\"}" "$url/api/v1/auth/login" \
      | sed -n 's/.*"accessToken":"\([^"]*\)".*/\1/p')
    token=$(curl -fsS -H "authorization: Bearer $jwt" -H 'content-type: application/json' \
      -d '{"expiresInMinutes":10,"uses":1}' "$url/api/v1/admin/enrollment-tokens" \
      | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  fi
  echo "Starting a local Docker agent (state in $state)"
  CONTROL_URL=$url AGENT_NAME=${AGENT_NAME:-$(hostname)} AGENT_STATE_DIR=$state TIAKI_ENROLLMENT_TOKEN=$token \
    dotnet run --no-build --project src/Tiaki.Agent.Docker &
  pids+=($!)
else
  echo "No Docker engine answers here: running the control plane alone."
fi
wait -n "${pids[@]}"
