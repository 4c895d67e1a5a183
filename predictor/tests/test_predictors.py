import random

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.tree import DecisionTreeRegressor

from predictor import features
from predictor.services.predictors import EstimatorPredictor, LinearPredictor, predictor_for

from .conftest import linear_rows

MAX = features.FEATURE_MAX


def course_like_model(seed=0):
    rng = np.random.default_rng(seed)
    inputs = rng.integers(0, 6000, size=(500, 2)).astype(float)
    views = inputs @ [83.94, 62.51] - 14432.2 + rng.normal(0, 50000, 500)
    return LinearRegression().fit(inputs, views)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_linear_fast_path_gives_scikit_learns_bits_for_every_row(seed):
    model = course_like_model(seed)
    predictor = predictor_for(model)
    assert isinstance(predictor, LinearPredictor)
    rng = random.Random(seed)
    rows = [[rng.randint(0, MAX), rng.randint(0, MAX)] for _ in range(3000)]
    rows += [[0, 0], [MAX, MAX], [0, MAX], [MAX, 0], [500, 300]]

    # One row at a time, as the API and the form ask it, and all at once, as a batch does.
    one_by_one = [predictor.predict([row])[0] for row in rows]
    reference = [model.predict(np.array([row], dtype=float))[0] for row in rows]
    assert [value.hex() for value in one_by_one] == [float(value).hex() for value in reference]
    batch = predictor.predict(rows)
    batch_reference = model.predict(np.array(rows, dtype=float))
    assert [value.hex() for value in batch] == [float(value).hex() for value in batch_reference]


def test_other_estimators_are_served_by_their_own_predict():
    inputs = np.array(linear_rows(40), dtype=float)
    for estimator in (Ridge(), DecisionTreeRegressor(random_state=0)):
        estimator.fit(inputs[:, :2], inputs[:, 2])
        predictor = predictor_for(estimator)
        assert isinstance(predictor, EstimatorPredictor)
        assert predictor.predict([[100, 50], [137, 103]]) == list(
            estimator.predict(np.array([[100, 50], [137, 103]], dtype=float))
        )


def test_a_stored_linear_version_is_served_from_its_recorded_coefficients_to_the_bit(db, tmp_path):
    from predictor import services

    from .conftest import write_csv

    rng = random.Random(7)
    rows = [(rng.randint(0, 6000), rng.randint(0, 6000)) for _ in range(300)]
    data = [
        (a, b, int(83.94 * a + 62.51 * b - 14432 + rng.gauss(0, 20000)) % 10**6) for a, b in rows
    ]
    version = services.retrain(
        data_path=write_csv(tmp_path / "noisy.csv", data), force=True
    ).version
    services.registry.clear_loaded_models()

    predictor = services.load_predictor(version)

    assert isinstance(predictor, LinearPredictor)
    model = services.load_model(version)
    queries = [[rng.randint(0, MAX), rng.randint(0, MAX)] for _ in range(2000)]
    reference = [model.predict(np.array([q], dtype=float))[0] for q in queries]
    assert [predictor.predict([q])[0].hex() for q in queries] == [float(v).hex() for v in reference]
    batch_reference = model.predict(np.array(queries, dtype=float))
    assert [v.hex() for v in predictor.predict(queries)] == [
        float(v).hex() for v in batch_reference
    ]
