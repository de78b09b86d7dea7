"""Cold-start child: import the predict handler, load the model, answer one request.

Run as a fresh process by benchmarks/cold.py (`python cold_ours.py <event.json> <result.json>`)
with the moto server's AWS_ENDPOINT_URL, so the model is loaded the way Lambda's init does:
registry read (DynamoDB), artifact fetch and sha256 check (S3), onnxruntime session. The clock
starts at this file's first statement; the parent also times the whole process.
"""

import time

STARTED = time.perf_counter()


def main() -> None:
    import sys

    from benchmarks.cold_child import answer_first_request, write_timings
    from predict import handler as predict_handler

    imported = time.perf_counter()
    service = predict_handler.service()
    if service.runtime.unavailable is not None:
        raise SystemExit(f"model did not load: {service.runtime.unavailable}")
    loaded = time.perf_counter()
    answered = answer_first_request(predict_handler.handler, sys.argv[1])
    write_timings(sys.argv[2], STARTED, imported, loaded, answered)


if __name__ == "__main__":
    main()
