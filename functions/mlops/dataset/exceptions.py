"""Errors raised when a training file does not satisfy its spec."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DataProblem:
    """One reason a training file was refused: a stable code and a message a user can act on."""

    code: str
    message: str


class DataValidationError(ValueError):
    """The training file is unusable; `problems` lists every reason found, one per failure."""

    def __init__(self, problems: list[DataProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(problem.message for problem in problems))
