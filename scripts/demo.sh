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
mkdir -p "$MLOPS_HOME"

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

step "7. Promote v1 of both: publish a function version pinned to the model, move alias live"
show "$MLOPS" promote iris 1
show "$MLOPS" promote diabetes 1

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

step "The local stack's own log"
sed 's/^/   | /' "$LOG"
printf '\n\033[1;32mDemo complete.\033[0m Its state is in %s (started empty each run); run `mlops local` yourself to keep a stack up.\n' "$MLOPS_HOME"
