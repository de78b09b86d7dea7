#!/usr/bin/env bash
# make demo: the whole lifecycle on this machine, no AWS account, told as a story.
set -euo pipefail
cd "$(dirname "$0")/.."
MLOPS=.venv/bin/mlops
# The demo has its own state folder and its own free ports, and starts that folder empty: a
# `mlops local` you keep running (state in .mlops, ports 8080/5055) is never touched.
export MLOPS_HOME="${MLOPS_DEMO_HOME:-.mlops/demo}"
export COLUMNS="${COLUMNS:-140}"
free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
API_PORT="${MLOPS_API_PORT:-$(free_port)}"
MOTO_PORT="${MLOPS_MOTO_PORT:-$(free_port)}"
LOG="$MLOPS_HOME/local.log"
# The rollout part of the story (scripts/demo_rollout.sh): bakes at half a second per spec minute,
# and a test-only fault on iris v3's function version, so its canary is seen rolled back.
export MLOPS_ROLLOUT_MINUTE_SECONDS="${MLOPS_ROLLOUT_MINUTE_SECONDS:-0.5}"
export MLOPS_LOCAL_ROLLOUT_SECONDS="${MLOPS_LOCAL_ROLLOUT_SECONDS:-1}"
export MLOPS_LOCAL_FAULTS="${MLOPS_LOCAL_FAULTS:-iris:3=error}"
mkdir -p "$MLOPS_HOME"
# Drift checks run on demand in the story (`mlops drift --now`); the timer stays out of the way.
export MLOPS_DRIFT_INTERVAL_SECONDS="${MLOPS_DRIFT_INTERVAL_SECONDS:-3600}"

step() { printf '\n\033[1;36m== %s\033[0m\n' "$*"; }
# Echo a command as it can be pasted into a shell (each argument quoted where it needs it).
quote() {
  local out="" arg
  for arg in "$@"; do
    if [[ "$arg" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then out+="$arg "; else out+="'${arg//\'/\'\\\'\'}' "; fi
  done
  printf '%s' "${out% }"
}
show() { printf '\033[2m$ %s\033[0m\n' "$(quote "$@")" >&2; "$@"; }
# curl that prints the HTTP status after the body, so each answer is read with its status.
call() { show curl -s -w '\nHTTP %{http_code}\n' "$@"; }

step "1. Start the local stack: moto on loopback, the stack's resources, the handlers in-process"
"$MLOPS" local --reset --port "$API_PORT" --moto-port "$MOTO_PORT" >"$LOG" 2>&1 &
LOCAL_PID=$!
trap 'kill -TERM $LOCAL_PID 2>/dev/null; wait $LOCAL_PID 2>/dev/null || true' EXIT
up() { grep -qs "\"pid\": $LOCAL_PID," "$MLOPS_HOME/local.json"; }  # written by this stack
for _ in $(seq 1 120); do
  up && break
  kill -0 $LOCAL_PID 2>/dev/null || { cat "$LOG"; echo "local stack failed to start (log: $LOG)"; exit 1; }
  sleep 0.5
done
up || { cat "$LOG"; echo "local stack did not come up"; exit 1; }
API_KEY=$(.venv/bin/python -c "import json;print(json.load(open('$MLOPS_HOME/local.json'))['api_key'])")
sed 's/^/   | /' "$LOG"

step "2. Example training data (datasets that ship with scikit-learn)"
show "$MLOPS" examples data

step "3. No model yet: the API answers 503 no_production_model"
call -H "x-api-key: $API_KEY" "http://127.0.0.1:$API_PORT/models/iris"

step "4. Upload iris.csv -> S3 notification -> SQS -> train: validate, fit, ONNX, parity, gate, register"
show "$MLOPS" train iris data/iris.csv

step "5. A bad file is refused with its reasons, alerts go out, nothing is registered"
show "$MLOPS" train iris data/iris-broken.csv || echo "   (exit $? as expected: the run failed)"

step "6. A regression model too"
show "$MLOPS" train diabetes data/diabetes.csv

step "7. v1 of both reached production without a human: the rollout reconciler published a version pinned to it and moved alias live"
for _ in $(seq 1 60); do
  curl -s -o /dev/null -w "%{http_code}" -H "x-api-key: $API_KEY" "http://127.0.0.1:$API_PORT/models/diabetes" | grep -q 200 && break
  sleep 0.5
done
show "$MLOPS" status iris

step "8. Predictions over HTTP from the local API"
call -X POST "http://127.0.0.1:$API_PORT/models/iris/predict" \
  -H "content-type: application/json" -H "x-api-key: $API_KEY" \
  -d '{"instances": [{"sepal length (cm)": 5.1, "sepal width (cm)": 3.5, "petal length (cm)": 1.4, "petal width (cm)": 0.2}, {"sepal length (cm)": 6.7, "sepal width (cm)": 3.0, "petal length (cm)": 5.2, "petal width (cm)": 2.3}]}'
show "$MLOPS" predict diabetes --json '{"age": 59, "sex": "2", "bmi": 32.1, "bp": 101, "s1": 157, "s2": 93.2, "s3": 38, "s4": 4, "s5": 4.86, "s6": 87}'
sed -n '1p;2p;60p;120p' data/iris.csv > "$MLOPS_HOME/rows.csv"
show "$MLOPS" predict iris --csv "$MLOPS_HOME/rows.csv"

step "9. Bad requests get a clear 4xx, never a 5xx"
call -X POST "http://127.0.0.1:$API_PORT/models/iris/predict" -H "content-type: application/json" \
  -H "x-api-key: $API_KEY" -d '{"instances": [{"sepal length (cm)": "big", "petal width (cm)": 99}]}'
call -X POST "http://127.0.0.1:$API_PORT/models/iris/predict" -H "content-type: application/json" \
  -H "x-api-key: $API_KEY" -d '{"instances": [ oops'
call -X POST "http://127.0.0.1:$API_PORT/models/iris/predict" -d '{}'
call -H "x-api-key: $API_KEY" "http://127.0.0.1:$API_PORT/models/nosuch"

step "10. What serves, with lineage"
show curl -s -H "x-api-key: $API_KEY" "http://127.0.0.1:$API_PORT/models/iris" | .venv/bin/python -c '
import json, sys
described = json.load(sys.stdin)
keep = ("model", "version", "status", "task", "metrics", "trained_at", "lineage", "artifact_sha256")
print(json.dumps({key: described[key] for key in keep}, indent=2))' 

step "11. The registry"
show "$MLOPS" models
show "$MLOPS" models iris

bash scripts/demo_rollout.sh "$API_PORT" "$API_KEY"

step "12. Alerts the local outbox received (SNS e-mail on AWS)"
sleep 2
cat "$MLOPS_HOME/outbox.jsonl" 2>/dev/null || echo "(none)"

step "13. Capture for monitoring: every prediction's id and outputs, sampled inputs (S3, by model/date/hour)"
sleep 6
show .venv/bin/python - <<PY
import os, boto3
os.environ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:$MOTO_PORT"  # the demo stack's moto
s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local")
for item in s3.list_objects_v2(Bucket="mlops-capture-123456789012-us-east-1", Prefix="capture/").get("Contents", []):
    print(" ", item["Key"], item["Size"], "bytes")
PY

step "14. Feedback must fit the model: a label that is no class, text for a regression, a row no request had -> 422"
show .venv/bin/python scripts/drift_demo.py bad-feedback

step "15. Drift: traffic like training -> no drift, no alert (window = capture since the last check)"
show .venv/bin/python scripts/drift_demo.py normal
show "$MLOPS" drift diabetes --now

step "16. bmi and s5 shifted by 0.8 training sd -> drift naming exactly those two, one alert"
show .venv/bin/python scripts/drift_demo.py shifted
show "$MLOPS" drift diabetes --now

step "17. Back to normal -> one 'recovered' alert"
show .venv/bin/python scripts/drift_demo.py normal
show "$MLOPS" drift diabetes --now

step "18. Ground truth that disagrees with the predictions -> a quality alert"
show .venv/bin/python scripts/drift_demo.py feedback
show "$MLOPS" drift diabetes --now

step "19. The report (self-contained HTML) and the alerts as e-mails a mail client opens"
show "$MLOPS" report diabetes
sleep 2
ls "$MLOPS_HOME"/outbox/*.eml 2>/dev/null | sed 's/^/   /' || echo "   (none)"
LAST_EML=$(ls "$MLOPS_HOME"/outbox/*drift-in*.eml 2>/dev/null | tail -1)
[ -n "$LAST_EML" ] && sed 's/^/   | /' "$LAST_EML"

step "The local stack's own log"
sed 's/^/   | /' "$LOG"
printf '\n\033[1;32mDemo complete.\033[0m Its state is in %s (started empty each run); run `mlops local` yourself to keep a stack up.\n' "$MLOPS_HOME"
