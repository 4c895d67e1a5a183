"""What answers a prediction once a model is loaded.

A fitted LinearRegression is `X @ coef_ + intercept_`. `retrain` writes those numbers to a small
JSON file beside the artifact (its sha256 recorded like the artifact's), and a worker serves
them with that same NumPy expression: no unpickling and no scikit-learn in the web worker. The
same expression, not plain Python arithmetic, because NumPy's matrix product may use fused
multiply-adds: only the same operation gives scikit-learn's bits (the tests compare them). JSON
keeps every float exactly (Python writes the shortest repr that reads back the same). Any other
estimator is unpickled from its verified artifact and served by its own `predict`.
"""

from collections.abc import Sequence

import numpy as np

from .. import features

LINEAR_REGRESSION = "sklearn.linear_model.LinearRegression"


class LinearPredictor:
    """`X @ coef_ + intercept_`, exactly as `LinearRegression.predict` computes it."""

    def __init__(self, coefficients: Sequence[float], intercept: float):
        self.coefficients = np.array([float(c) for c in coefficients], dtype=np.float64)
        self.intercept = np.float64(intercept)

    def predict(self, rows: Sequence[Sequence[float]]) -> list[float]:
        matrix = np.array(rows, dtype=np.float64).reshape(len(rows), len(self.coefficients))
        return (matrix @ self.coefficients + self.intercept).tolist()


class EstimatorPredictor:
    """Any scikit-learn estimator, through its own `predict` (one call for a whole batch)."""

    def __init__(self, estimator):
        self.estimator = estimator

    def predict(self, rows: Sequence[Sequence[float]]) -> list[float]:
        matrix = np.asarray(rows, dtype="float64").reshape(len(rows), -1)
        return [float(value) for value in self.estimator.predict(matrix)]


Predictor = LinearPredictor | EstimatorPredictor


def interval_half_widths(
    predicted: Sequence[float], relative_half_width: float, scale_floor: float
) -> np.ndarray:
    """How far either side of each prediction its interval reaches: a share of the prediction,
    because an article predicted at 400,000 views misses by more than one predicted at 40,000;
    never less than that share of `scale_floor`, so a tiny prediction still gets a real interval."""
    return relative_half_width * np.maximum(np.asarray(predicted, dtype=np.float64), scale_floor)


def serving_spec(estimator) -> dict | None:
    """What a worker needs to serve `estimator` without unpickling it, or None if it cannot."""
    from sklearn.linear_model import LinearRegression

    if type(estimator) is not LinearRegression or getattr(estimator.coef_, "ndim", 0) != 1:
        return None
    return {
        "algorithm": LINEAR_REGRESSION,
        "features": list(features.INPUT_NAMES),
        "coefficients": [float(value) for value in estimator.coef_],
        "intercept": float(estimator.intercept_),
    }


def predictor_from_spec(spec: dict) -> LinearPredictor:
    """The predictor a serving spec describes; ValueError if it is not one this code can serve."""
    if spec.get("algorithm") != LINEAR_REGRESSION or spec.get("features") != list(
        features.INPUT_NAMES
    ):
        raise ValueError(f"not a linear model of {list(features.INPUT_NAMES)}")
    return LinearPredictor(spec["coefficients"], spec["intercept"])


def predictor_for(estimator) -> Predictor:
    """How an unpickled estimator is served: as its spec says when it has one, else itself."""
    spec = serving_spec(estimator)
    return predictor_from_spec(spec) if spec is not None else EstimatorPredictor(estimator)
