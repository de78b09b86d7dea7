#!/usr/bin/env bash
# The rollout part of `make demo` (called by scripts/demo.sh with the running local stack):
# a canary measured over HTTP and promoted on evidence, then a broken version rolled back.
# Needs MLOPS_ROLLOUT_MINUTE_SECONDS and MLOPS_LOCAL_FAULTS set when the stack started.
set -euo pipefail
cd "$(dirname "$0")/.."
API_PORT="$1"
API_KEY="$2"
MLOPS=.venv/bin/mlops

step() { printf '\n\033[1;36m== %s\033[0m\n' "$*"; }
show() { printf '\033[2m$ %s\033[0m\n' "$*" >&2; "$@"; }
wait_for() {  # wait_for SECONDS PATTERN: until `mlops status iris` matches
  for _ in $(seq 1 $(( $1 * 2 ))); do
    # Read the whole output first: with pipefail, `grep -q` closing the pipe early would fail.
    status=$("$MLOPS" status iris 2>/dev/null || true)
    grep -q "$2" <<<"$status" && return 0
    sleep 0.5
  done
  echo "   (timed out waiting for: $2)"; "$MLOPS" status iris; return 1
}
traffic() {  # traffic N: N predictions over HTTP; every answer's status, then totals
  .venv/bin/python - "$API_PORT" "$API_KEY" "$1" <<'PY'
import collections, json, sys, urllib.error, urllib.request
port, key, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
row = {"sepal length (cm)": 6.7, "sepal width (cm)": 3.0, "petal length (cm)": 5.2, "petal width (cm)": 2.3}
body = json.dumps({"instances": [row]}).encode()
totals, line = collections.Counter(), []
print("   every answer, in order: . = 200 from the production version, + = 200 from the canary, "
      "5 = a 5xx, 4 = a 4xx")
production = None
for index in range(count):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/models/iris/predict", data=body,
        method="POST", headers={"Content-Type": "application/json", "x-api-key": key})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, version = answer.status, json.loads(answer.read())["model_version"]
    except urllib.error.HTTPError as error:
        status, version = error.code, None
    production = production if production is not None or version is None else version
    totals[(status, version)] += 1
    mark = "5" if status >= 500 else "4" if status >= 400 else "." if version == production else "+"
    line.append(mark)
    if len(line) == 100 or index == count - 1:
        print("   " + "".join(line)); line = []
for (status, version), n in sorted(totals.items(), key=str):
    print(f"   HTTP {status} from {'v' + str(version) if version else 'the failing version'}: "
          f"{n} ({n / count:.1%})")
PY
}

step "14. Retrain iris: v2 is registered -> ModelRegistered -> the reconciler: shadow replay, then a canary"
show "$MLOPS" train iris data/iris.csv
wait_for 30 "canary v2 (model"
show "$MLOPS" status iris
sleep 1.2   # the local API re-reads alias live at most once a second

step "15. 3,500 requests over HTTP: the canary's measured share (the spec says 10%)"
traffic 3500
echo "   ... the bake ends (30 spec minutes at ${MLOPS_ROLLOUT_MINUTE_SECONDS}s each); the evidence decides"
wait_for 120 "no canary in flight"
show "$MLOPS" status iris

step "16. A broken v3 (test-only fault on its version: MLOPS_LOCAL_FAULTS=$MLOPS_LOCAL_FAULTS)"
show "$MLOPS" train iris data/iris.csv
wait_for 30 "canary v3 (model"
sleep 1.2
traffic 400
wait_for 60 "v3.*rolled_back"
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
