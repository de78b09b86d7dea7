"""Cold-start child: import the predict handler, load the model, answer one request.

Run as a fresh process by benchmarks/cold.py (`python cold_ours.py <event.json> <result.json>`)
with the moto server's AWS_ENDPOINT_URL, so the model is loaded the way Lambda's init does:
registry read (DynamoDB), artifact fetch and sha256 check (S3), onnxruntime session. The clock
starts at this file's first statement; the parent also times the whole process.
"""

import time

STARTED = time.perf_counter()


def main() -> None:
    import json
    import sys

    from predict import handler as predict_handler

    imported = time.perf_counter()
    service = predict_handler.service()
    if service.runtime.unavailable is not None:
        raise SystemExit(f"model did not load: {service.runtime.unavailable}")
    loaded = time.perf_counter()
    with open(sys.argv[1]) as source:
        event = json.load(source)

    class Context:
        function_name = "mlops-predict-bench"
        function_version = "1"
        memory_limit_in_mb = 1024
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
        aws_request_id = "cold"

    response = predict_handler.handler(event, Context())  # type: ignore[arg-type]  # duck-typed
    answered = time.perf_counter()
    if response["statusCode"] != 200:
        raise SystemExit(f"answered {response['statusCode']}: {response['body']}")
    with open(sys.argv[2], "w") as sink:
        json.dump(
            {
                "import_s": imported - STARTED,
                "load_s": loaded - imported,
                "first_request_s": answered - loaded,
                "total_s": answered - STARTED,
            },
            sink,
        )


if __name__ == "__main__":
    main()
