"""Function settings come from the environment, with clear errors for what is wrong."""

from __future__ import annotations

import pytest

from mlops.settings import PredictSettings, SettingsError, TrainSettings

PREDICT = {"MODEL_NAME": "iris", "MODEL_BUCKET": "models", "REGISTRY_TABLE": "registry"}


def test_predict_defaults_and_overrides() -> None:
    settings = PredictSettings.from_environment(PREDICT)
    assert (settings.model_version, settings.max_batch_rows, settings.max_body_bytes) == (
        0,
        1000,
        1_000_000,
    )
    pinned = PredictSettings.from_environment({**PREDICT, "MODEL_VERSION": "7"})
    assert pinned.model_version == 7
    # The executing function version, as Lambda sets it in each version's environment.
    assert settings.function_version == "$LATEST"
    published = PredictSettings.from_environment({**PREDICT, "AWS_LAMBDA_FUNCTION_VERSION": "12"})
    assert published.function_version == "12"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"MODEL_NAME": ""}, "MODEL_NAME is required"),
        ({"MODEL_VERSION": "one"}, "MODEL_VERSION must be an integer"),
        ({"MODEL_VERSION": "-1"}, "MODEL_VERSION must be >= 0"),
        ({"MAX_BATCH_ROWS": "0"}, "MAX_BATCH_ROWS must be >= 1"),
        ({"MAX_BODY_BYTES": "1.5"}, "MAX_BODY_BYTES must be an integer"),
    ],
)
def test_predict_refuses_bad_values_naming_the_variable(
    changes: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        PredictSettings.from_environment({**PREDICT, **changes})


def test_train_settings() -> None:
    env = {"MODEL_BUCKET": "m", "REGISTRY_TABLE": "r", "ALERTS_TOPIC_ARN": "arn:topic"}
    settings = TrainSettings.from_environment({**env, "MAX_TRAINING_FILE_MB": "12.5"})
    assert (settings.max_training_file_mb, settings.run_lease_seconds) == (12.5, 1000)
    assert settings.event_bus_name == "default"
    with pytest.raises(SettingsError, match="MAX_TRAINING_FILE_MB must be >= "):
        TrainSettings.from_environment({**env, "MAX_TRAINING_FILE_MB": "nan"})
    with pytest.raises(SettingsError, match="ALERTS_TOPIC_ARN is required"):
        TrainSettings.from_environment({"MODEL_BUCKET": "m", "REGISTRY_TABLE": "r"})
