"""Cold-start child for the comparison: the minimal scikit-learn/joblib handler.

What a hand-rolled scikit-learn Lambda does at a cold start, and nothing more (no framework,
no validation, no registry): import joblib, unpickle the fitted pipeline from a local file
(kinder than our S3 fetch + sha256 check), parse the API Gateway event's JSON body, build the
row array, `predict_proba`, serialise the answer. Given `s3://bucket/key` instead of a file,
it fetches the pickle with boto3 first, as a scikit-learn Lambda that keeps its model in S3
would (the like-for-like comparison with our loading path).
Run as `python cold_sklearn.py <event.json> <result.json> <model.joblib|s3://...> <features>`.
"""

import time

STARTED = time.perf_counter()


def main() -> None:
    import json
    import sys

    import joblib
    import numpy as np

    from benchmarks.cold_child import write_timings

    imported = time.perf_counter()
    source_path = sys.argv[3]
    if source_path.startswith("s3://"):
        import io

        import boto3

        bucket, key = source_path[5:].split("/", 1)
        data = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        pipeline = joblib.load(io.BytesIO(data))
    else:
        pipeline = joblib.load(source_path)
    with open(sys.argv[4]) as source:
        names = json.load(source)
    loaded = time.perf_counter()
    with open(sys.argv[1]) as source:
        event = json.load(source)
    instances = json.loads(event["body"])["instances"]
    rows = np.array([[row[name] for name in names] for row in instances], dtype=np.float64)
    probabilities = pipeline.predict_proba(rows)
    labels = pipeline.classes_[probabilities.argmax(axis=1)]
    response = {
        "statusCode": 200,
        "body": json.dumps(
            {
                "predictions": labels.tolist(),
                "classes": pipeline.classes_.tolist(),
                "probabilities": np.round(probabilities, 6).tolist(),
            }
        ),
    }
    answered = time.perf_counter()
    assert response["statusCode"] == 200
    write_timings(sys.argv[2], STARTED, imported, loaded, answered)


if __name__ == "__main__":
    main()
