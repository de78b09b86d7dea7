"""The slice of Lambda's context object the handlers read, for in-process invocations (the
local stack, tests and benchmarks call the real handlers without Lambda)."""

from __future__ import annotations

from typing import cast

from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.local.provision import LOCAL_ACCOUNT, LOCAL_REGION


class LocalContext:
    """What `LambdaContext` offers, with the values Lambda would give this function."""

    def __init__(
        self,
        function_name: str,
        request_id: str = "local",
        memory_mb: int = 1024,
        timeout_ms: int = 10_000,
        qualifier: str = "$LATEST",
    ) -> None:
        self.function_name = function_name
        self.function_version = qualifier
        self.invoked_function_arn = (
            f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{function_name}:{qualifier}"
        )
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._timeout_ms = timeout_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms

    def as_lambda_context(self) -> LambdaContext:
        return cast(LambdaContext, self)
