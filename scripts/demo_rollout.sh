#!/usr/bin/env bash
# The rollout part of `make demo` (called by scripts/demo.sh with the running local stack):
# a canary measured over HTTP and promoted on evidence, then a broken version rolled back.
# Needs MLOPS_ROLLOUT_MINUTE_SECONDS and MLOPS_LOCAL_FAULTS set when the stack started.
set -euo pipefail
cd "$(dirname "$0")/.."
API_PORT="$1"
API_KEY="$2"
MLOPS=.venv/bin/mlops

DEMO_STARTED="${DEMO_STARTED:-$(date +%s)}"
step() {
  local elapsed=$(( $(date +%s) - DEMO_STARTED ))
  printf '\n\033[1;36m== %s\033[0m \033[2m[%d:%02d]\033[0m\n' "$*" $(( elapsed / 60 )) $(( elapsed % 60 ))
}
show() { printf '\033[2m$ %s\033[0m\n' "$*" >&2; "$@"; }
wait_for() {  # wait_for SECONDS PATTERN WHAT: until `mlops status iris` matches; a dot a check
  local started=$SECONDS
  printf '   waiting for %s ' "$3"
  while (( SECONDS - started < $1 )); do
    # Read the whole output first: with pipefail, `grep -q` closing the pipe early would fail.
    status=$("$MLOPS" status iris 2>/dev/null || true)
    grep -q "$2" <<<"$status" && { printf ' %d s\n' $(( SECONDS - started )); return 0; }
    printf '.'
    sleep 0.5
  done
  echo " timed out after $1 s"; "$MLOPS" status iris; return 1
}
# N predictions from 8 clients, every answer's mark; --until-decided: on until alias live moves.
traffic() { .venv/bin/python scripts/demo_traffic.py "$@"; }

step "9. Retrain iris: v2 is registered -> ModelRegistered -> the reconciler: shadow replay, then a canary"
show "$MLOPS" train iris data/iris.csv
wait_for 30 "canary v2 (model" "the reconciler to start v2's canary"
show "$MLOPS" status iris
sleep 1.2   # the local API re-reads alias live at most once a second

step "10. 3,500 requests over HTTP: the canary's measured share (the spec says 10%), then the evidence decides"
echo "   the bake is 30 spec minutes (${MLOPS_ROLLOUT_MINUTE_SECONDS} s each here), one look every 5;"
echo "   traffic goes on until the evidence decides and alias live moves"
traffic 3500 --until-decided
wait_for 30 "no canary in flight" "the registry to record the decision"
show "$MLOPS" status iris

step "11. A faulty v3 (test-only fault: every answer of its version is a 500; MLOPS_LOCAL_FAULTS=$MLOPS_LOCAL_FAULTS) is rolled back"
show "$MLOPS" train iris data/iris.csv
wait_for 30 "canary v3 (model" "v3's canary"
sleep 1.2
traffic 400 --until-decided
wait_for 60 "v3.*rolled_back" "the registry to record the rollback"
show "$MLOPS" status iris
sleep 1.2
echo "   production untouched:"
traffic 100
sleep 1
echo "   the alert (SNS e-mail on AWS, the local outbox here):"
grep -h "v3: rolled back" "$MLOPS_HOME/outbox.jsonl" | .venv/bin/python -c '
import json, sys
for line in sys.stdin:
    alert = json.loads(line)
    print("   subject:", alert["subject"])
    print("   " + "\n   ".join(alert["message"].splitlines()[:4]))'
