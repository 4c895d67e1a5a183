"""What answers a prediction once a model is loaded.

A fitted LinearRegression is a dot product and an intercept. scikit-learn's `predict` spends
about 0.3 ms a call validating its input before it computes `X @ coef_ + intercept_`; linear
models are served by that same NumPy expression on the same float64 array, a few microseconds,
without importing scikit-learn. It is the same expression and not plain Python arithmetic
because NumPy's matrix product may use fused multiply-adds, depending on the CPU it runs on:
only the same operation gives the same bits everywhere (the tests compare them). Any other
estimator is served by its own `predict`.
"""

import math
from collections.abc import Sequence

import numpy as np


class Predictor:
    def predict(self, rows: Sequence[Sequence[float]]) -> list[float]:
        raise NotImplementedError


class LinearPredictor(Predictor):
    """`X @ coef_ + intercept_`, exactly as `LinearRegression.predict` computes it."""

    def __init__(self, coefficients: Sequence[float], intercept: float):
        self.coefficients = np.array([float(c) for c in coefficients], dtype=np.float64)
        self.intercept = np.float64(intercept)

    def predict(self, rows):
        matrix = np.array(rows, dtype=np.float64).reshape(len(rows), len(self.coefficients))
        return (matrix @ self.coefficients + self.intercept).tolist()


class EstimatorPredictor(Predictor):
    """Any scikit-learn estimator, through its own `predict` (one call for a whole batch)."""

    def __init__(self, estimator):
        self.estimator = estimator

    def predict(self, rows):
        matrix = np.asarray(rows, dtype="float64").reshape(len(rows), -1)
        return [float(value) for value in self.estimator.predict(matrix)]


def predictor_for(estimator) -> Predictor:
    from sklearn.linear_model import LinearRegression

    coefficients = getattr(estimator, "coef_", None)
    if (
        type(estimator) is LinearRegression
        and getattr(coefficients, "ndim", 0) == 1
        and all(math.isfinite(float(c)) for c in coefficients)
    ):
        return LinearPredictor(coefficients, estimator.intercept_)
    return EstimatorPredictor(estimator)


LINEAR_REGRESSION = "sklearn.linear_model.LinearRegression"


def recorded_linear_predictor(version) -> LinearPredictor | None:
    """The predictor of a linear ModelVersion from the coefficients `retrain` recorded, or None
    when the version is not one (then its artifact must be unpickled)."""
    from .. import features

    parameters = version.parameters or {}
    coefficients = parameters.get("coefficients") or {}
    if (
        version.algorithm != LINEAR_REGRESSION
        or list(version.features) != list(features.INPUT_NAMES)
        or list(coefficients) != list(features.INPUT_NAMES)
        or "intercept" not in parameters
    ):
        return None
    return LinearPredictor(
        [coefficients[name] for name in features.INPUT_NAMES], parameters["intercept"]
    )
