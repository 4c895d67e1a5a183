"""The algorithms `retrain --algorithm NAME` offers: scikit-learn estimators that suit this data.

Views, likes and shares are counts with a long right tail, and views grow with both inputs. The
course's LinearRegression stays the default; the others trade its simplicity for a better fit:
ridge (the same line, shrunk, on standardised inputs), a linear model of the logarithms (a
multiplicative relation, which tames the tail) and gradient-boosted trees (any monotone shape).
Every artifact stores the whole fitted estimator, pipeline steps included.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.utils.translation import gettext_lazy as _
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from .. import features

DEFAULT_ALGORITHM = "linear"
SEED = 20240601


@dataclass(frozen=True)
class Algorithm:
    name: str
    summary: str  # lazily translated: what `retrain --compare` says the algorithm is
    build: Callable[[], object]
    # How its fitted coefficients read, when it has any: "views" (views ≈ a·likes + b·shares + c)
    # or "log1p" (log(1+views) ≈ a·log(1+likes) + b·log(1+shares) + c).
    equation_scale: str | None = None


def _log_linear():
    return TransformedTargetRegressor(
        regressor=make_pipeline(
            FunctionTransformer(np.log1p, feature_names_out="one-to-one"), LinearRegression()
        ),
        func=np.log1p,
        inverse_func=np.expm1,
    )


ALGORITHMS: dict[str, Algorithm] = {
    algorithm.name: algorithm
    for algorithm in (
        Algorithm("linear", _("LinearRegression (the course's model)"), LinearRegression, "views"),
        Algorithm(
            "ridge",
            _("StandardScaler → RidgeCV (alpha chosen by internal CV)"),
            lambda: make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13))),
            "views",
        ),
        Algorithm(
            "log-linear",
            _("LinearRegression on log(1+x), predicting log(1+views)"),
            _log_linear,
            "log1p",
        ),
        Algorithm(
            "hist-gb",
            _("HistGradientBoostingRegressor (shallow trees, slow learning rate)"),
            lambda: HistGradientBoostingRegressor(
                learning_rate=0.05,
                max_iter=200,
                max_leaf_nodes=15,
                min_samples_leaf=20,
                l2_regularization=1.0,
                random_state=SEED,
            ),
        ),
    )
}


def algorithm_named(name: str) -> Algorithm:
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ValueError(
            f"There is no algorithm {name!r}; choose one of {', '.join(ALGORITHMS)}."
        ) from None


def fitted_parameters(algorithm: Algorithm, estimator) -> dict:
    """What a person reads about a fitted model: its coefficients in the units of the data when it
    is linear, and the hyperparameters it was built with."""
    parameters: dict = {"hyperparameters": _plain(estimator.get_params(deep=True))}
    if algorithm.name == "ridge":
        parameters["alpha"] = float(estimator[-1].alpha_)
    equation = linear_equation(algorithm, estimator)
    if equation is None:
        parameters["iterations"] = int(estimator.n_iter_)
        return parameters
    coefficients, intercept = equation
    parameters["coefficients"] = dict(
        zip(features.INPUT_NAMES, map(float, coefficients), strict=True)
    )
    parameters["intercept"] = intercept
    parameters["scale"] = algorithm.equation_scale
    return parameters


def linear_equation(algorithm: Algorithm, estimator) -> tuple[np.ndarray, float] | None:
    """A fitted estimator's coefficients (in INPUT_NAMES' order) and intercept, on its algorithm's
    `equation_scale`, or None for one that has no equation (trees). One home for the arithmetic:
    the version's parameters record these, and a ridge version's answers are explained by them."""
    if algorithm.name == "linear":
        return estimator.coef_, float(estimator.intercept_)
    if algorithm.name == "ridge":
        scaler, ridge = estimator[0], estimator[-1]
        # Undo the standardisation, so the equation reads in likes and shares.
        coefficients = ridge.coef_ / scaler.scale_
        intercept = ridge.intercept_ - float(np.sum(ridge.coef_ * scaler.mean_ / scaler.scale_))
        return coefficients, float(intercept)
    if algorithm.name == "log-linear":
        linear = estimator.regressor_[-1]
        return linear.coef_, float(linear.intercept_)
    return None


def _plain(params: dict) -> dict:
    """The hyperparameters as JSON holds them: numbers, text and flags as they are, estimators and
    functions by name, lists of numbers as lists; pipeline step lists are left out."""
    plain = {}
    for key, value in sorted(params.items()):
        if isinstance(value, bool | int | float | str) or value is None:
            plain[key] = value
        elif isinstance(value, np.ndarray) and value.ndim == 1 and len(value) <= 50:
            plain[key] = [float(v) for v in value]
        elif hasattr(value, "get_params"):
            plain[key] = type(value).__name__
        elif callable(value):
            plain[key] = getattr(value, "__name__", type(value).__name__)
    return plain
