#!/usr/bin/env bash
# make demo: the whole lifecycle on this machine, no AWS account, told as a story.
# train v1 -> production -> predictions over HTTP -> a bad CSV refused -> v2 shadow, canary,
# promoted -> a faulty v3 rolled back -> drift, its alert and report -> recovered -> wrong
# labels, a quality alert -> the registry's lineage and transitions -> where everything is.
set -euo pipefail
cd "$(dirname "$0")/.."
MLOPS=.venv/bin/mlops
# The demo has its own state folder and its own free ports, and starts that folder empty: a
# `mlops local` you keep running (state in .mlops, ports 8080/5055) is never touched.
export MLOPS_HOME="${MLOPS_DEMO_HOME:-.mlops/demo}"
export COLUMNS="${COLUMNS:-140}"
export DEMO_STARTED="${DEMO_STARTED:-$(date +%s)}"
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
rm -rf "$MLOPS_HOME/reports"  # `mlops local --reset` empties the rest of the folder
# Drift checks run on demand in the story (`mlops drift --now`); the timer stays out of the way.
export MLOPS_DRIFT_INTERVAL_SECONDS="${MLOPS_DRIFT_INTERVAL_SECONDS:-3600}"

# Step headers carry the time since the demo started, so a slow step shows itself.
step() {
  local elapsed=$(( $(date +%s) - DEMO_STARTED ))
  printf '\n\033[1;36m== %s\033[0m \033[2m[%d:%02d]\033[0m\n' "$*" $(( elapsed / 60 )) $(( elapsed % 60 ))
}
say() { printf '   %s\n' "$*"; }
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
# The subjects of the alerts in the outbox whose subject matches a pattern (SNS e-mail on AWS).
alerts() { grep -h "$1" "$MLOPS_HOME/outbox.jsonl" 2>/dev/null | .venv/bin/python -c '
import json, sys
for line in sys.stdin:
    print("   alert:", json.loads(line)["subject"])' || true; }

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
API="http://127.0.0.1:$API_PORT"
sed 's/^/   | /' "$LOG"

step "2. Example training data (datasets that ship with scikit-learn)"
show "$MLOPS" examples data

step "3. No model yet: the API answers 503 no_production_model"
call -H "x-api-key: $API_KEY" "$API/models/iris"

step "4. Train iris v1: upload -> S3 notification -> SQS -> train: validate, fit, ONNX, parity, gate, register"
show "$MLOPS" train iris data/iris.csv

step "5. v1 reaches production without a human: the rollout reconciler published a function version pinned to it and moved alias live"
for _ in $(seq 1 60); do
  curl -s -o /dev/null -w "%{http_code}" -H "x-api-key: $API_KEY" "$API/models/iris" | grep -q 200 && break
  sleep 0.5
done
show "$MLOPS" status iris

step "6. Predictions over HTTP (curl, the CLI with JSON and with a CSV, the v2 protocol)"
call -X POST "$API/models/iris/predict" -H "content-type: application/json" -H "x-api-key: $API_KEY" \
  -d '{"instances": [{"sepal length (cm)": 5.1, "sepal width (cm)": 3.5, "petal length (cm)": 1.4, "petal width (cm)": 0.2}, {"sepal length (cm)": 6.7, "sepal width (cm)": 3.0, "petal length (cm)": 5.2, "petal width (cm)": 2.3}]}'
show "$MLOPS" predict iris --json '{"sepal length (cm)": 5.9, "sepal width (cm)": 3.0, "petal length (cm)": 4.2, "petal width (cm)": 1.5}'
sed -n '1p;2p;60p;120p' data/iris.csv > "$MLOPS_HOME/rows.csv"
show "$MLOPS" predict iris --csv "$MLOPS_HOME/rows.csv"
say "Batches go columnar: the Open Inference Protocol (KServe v2), one typed tensor per feature"
call -X POST "$API/v2/models/iris/infer" -H "content-type: application/json" -H "x-api-key: $API_KEY" \
  -d '{"inputs": [{"name": "sepal length (cm)", "shape": [2], "datatype": "FP32", "data": [5.1, 6.7]}, {"name": "sepal width (cm)", "shape": [2], "datatype": "FP32", "data": [3.5, 3.0]}, {"name": "petal length (cm)", "shape": [2], "datatype": "FP32", "data": [1.4, 5.2]}, {"name": "petal width (cm)", "shape": [2], "datatype": "FP32", "data": [0.2, 2.3]}]}'

step "7. Bad requests get a clear 4xx naming the problem, never a 5xx"
call -X POST "$API/models/iris/predict" -H "content-type: application/json" \
  -H "x-api-key: $API_KEY" -d '{"instances": [{"sepal length (cm)": "big", "petal width (cm)": 99}]}'
call -X POST "$API/models/iris/predict" -H "content-type: application/json" \
  -H "x-api-key: $API_KEY" -d '{"instances": [ oops'
call -X POST "$API/models/iris/predict" -d '{}'
call -H "x-api-key: $API_KEY" "$API/models/nosuch"

step "8. A bad CSV is refused with all its reasons; an alert goes out; no version is created"
show "$MLOPS" train iris data/iris-broken.csv || say "(exit $? as expected: the run failed)"
sleep 1
alerts "training failed for iris"

bash scripts/demo_rollout.sh "$API_PORT" "$API_KEY"   # steps 9-11

step "12. Monitoring: a regression model (diabetes, one categorical feature) and its capture"
show "$MLOPS" train diabetes data/diabetes.csv
for _ in $(seq 1 60); do
  curl -s -o /dev/null -w "%{http_code}" -H "x-api-key: $API_KEY" "$API/models/diabetes" | grep -q 200 && break
  sleep 0.5
done
show "$MLOPS" predict diabetes --json '{"age": 59, "sex": "2", "bmi": 32.1, "bp": 101, "s1": 157, "s2": 93.2, "s3": 38, "s4": 4, "s5": 4.86, "s6": 87}'
say "every prediction's id and outputs, and the spec's 10% of inputs, land in S3 by model/date/hour:"
show .venv/bin/python - <<PY
import os, boto3
os.environ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:$MOTO_PORT"  # the demo stack's moto
s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local")
keys = [item["Key"] for item in s3.list_objects_v2(Bucket="mlops-capture-123456789012-us-east-1", Prefix="capture/").get("Contents", [])]
print(f"   {len(keys)} capture files in s3://mlops-capture-123456789012-us-east-1/capture/, e.g.")
for key in keys[:3]:
    print("    ", key)
PY

step "13. Drift: traffic like training -> no drift, no alert (the window is the capture since the last check)"
show .venv/bin/python scripts/drift_demo.py normal
show "$MLOPS" drift diabetes --now

step "14. bmi and s5 shifted by 0.8 training sd -> drift naming exactly those two, one alert (an .eml)"
show .venv/bin/python scripts/drift_demo.py shifted
show "$MLOPS" drift diabetes --now
sleep 1
alerts "drift in"
LAST_EML=$(ls "$MLOPS_HOME"/outbox/*drift-in*.eml 2>/dev/null | tail -1)
[ -n "$LAST_EML" ] && { say "the e-mail, as a mail client opens it ($LAST_EML):"; sed -n '1,12p' "$LAST_EML" | cut -c1-160 | sed 's/^/   | /'; }

step "15. Back to normal -> one 'recovered' alert"
show .venv/bin/python scripts/drift_demo.py normal
show "$MLOPS" drift diabetes --now
sleep 1
alerts "drift recovered"

step "16. Feedback (ground truth by request id) must fit the model: a label that is no class, text for a regression, a row no request had -> 422"
show .venv/bin/python scripts/drift_demo.py bad-feedback

step "17. Ground truth that disagrees with the predictions -> a quality alert"
show .venv/bin/python scripts/drift_demo.py feedback
show "$MLOPS" drift diabetes --now
sleep 1
alerts "quality dropped"

step "18. The drift report: self-contained HTML (the alert's link expires; this command works any time)"
show "$MLOPS" report diabetes

step "19. The registry: every model, then iris's lineage (data, spec, code, artifact per version) and its transitions"
show "$MLOPS" models
show "$MLOPS" history iris

step "20. Where everything is"
REPORTS=$(ls "$MLOPS_HOME"/reports/*.html 2>/dev/null | wc -l)
EMLS=$(ls "$MLOPS_HOME"/outbox/*.eml 2>/dev/null | wc -l)
ALERTS=$(wc -l < "$MLOPS_HOME/outbox.jsonl" 2>/dev/null || echo 0)
say "state folder      $MLOPS_HOME/  (started empty; the next run resets it)"
say "drift reports     $MLOPS_HOME/reports/  ($REPORTS HTML; JSON + HTML also in s3://mlops-capture-123456789012-us-east-1/reports/)"
say "alerts            $MLOPS_HOME/outbox.jsonl ($ALERTS alerts) and $MLOPS_HOME/outbox/*.eml ($EMLS e-mails)"
say "local stack log   $LOG  ($(wc -l < "$LOG") lines: every request, training run, rollout step and alert)"
say "capture           s3://mlops-capture-123456789012-us-east-1/capture/model=<m>/dt=<day>/hour=<h>/"
say "models            s3://mlops-models-123456789012-us-east-1/models/<m>/v<N>/ (model.onnx, baseline, metrics, card)"
say "its last events:"
grep '^\[' "$LOG" | tail -n 4 | cut -c1-160 | sed 's/^/   | /'
elapsed=$(( $(date +%s) - DEMO_STARTED ))
printf '\n\033[1;32mDemo complete in %d:%02d.\033[0m Keep a stack up with `mlops local` (state in .mlops, API on 8080); `mlops --help` lists the commands.\n' $(( elapsed / 60 )) $(( elapsed % 60 ))
