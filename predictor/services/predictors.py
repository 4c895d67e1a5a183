"""What answers a prediction once a model is loaded.

A fitted LinearRegression is a dot product and an intercept. scikit-learn's `predict` on one row
costs about 0.3 ms in array set-up; the same arithmetic in plain Python costs about a microsecond
and gives the same bits as `predict` on that row (the tests check it on many rows), so linear
models are served that way. Any other estimator is served by its own `predict`.
"""

import math
from collections.abc import Sequence


class Predictor:
    def predict(self, rows: Sequence[Sequence[float]]) -> list[float]:
        raise NotImplementedError


class LinearPredictor(Predictor):
    """coef · x + intercept, summed in feature order, as `LinearRegression.predict` does per row."""

    def __init__(self, coefficients: Sequence[float], intercept: float):
        self.coefficients = tuple(float(c) for c in coefficients)
        self.intercept = float(intercept)

    def predict(self, rows):
        coefficients, intercept = self.coefficients, self.intercept
        results = []
        for row in rows:
            total = 0.0
            for value, coefficient in zip(row, coefficients, strict=True):
                total += value * coefficient
            results.append(total + intercept)
        return results


class EstimatorPredictor(Predictor):
    """Any scikit-learn estimator, through its own `predict` (one call for a whole batch)."""

    def __init__(self, estimator):
        self.estimator = estimator

    def predict(self, rows):
        import numpy as np

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
