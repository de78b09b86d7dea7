"""Training data: parse a CSV against its spec, refusing bad files with clear reasons."""

from mlops.dataset.exceptions import DataProblem, DataValidationError
from mlops.dataset.reader import TrainingData, check_file_size, read_training_csv

__all__ = [
    "DataProblem",
    "DataValidationError",
    "TrainingData",
    "check_file_size",
    "read_training_csv",
]
