"""Why this number: an answer of a linear version broken into the parts that add up to it.

A linear version computes `intercept + Σ coefficient × value`, so its answer is exactly a
starting figure plus one part per input. It is shown two ways (README, "Why this number"):

- from the intercept: the intercept, then each input's coefficient × its value;
- from the average (as SHAP-style explanation tools show it): the average prediction, the answer
  for an article with the training data's mean of every input, then each input's
  coefficient × (its value − its training mean).

Both end at the figure the model computed; when that is below zero the answer served is 0
(features.served_views), and a last step says so, so that the steps always add up to the answer
served. Every figure is to the cent, and each step is the difference of two running totals
rounded to the cent, so the steps a person (or a program) adds up give the answer to the cent
exactly, each within a cent of its exact part.

Only verified parameters are read, never `version.parameters`, which is for people: a linear
regression's from the predictor that answered (registry.load_predictor), ridge's from the
verified estimator inside it (registry.load_model's), its standardisation undone as its
parameters record it (algorithms.linear_equation). Ridge's own pipeline computes its answer by
another route, so its parts may differ from it in the last bits: the last input's running total
is the model's own figure, and the steps still add up to the answer to the cent. A version whose
model is not a sum of parts (trees, a model of the logarithms) says so and gives no parts: any
split of its answer would be a guess. Nothing is stored: an explanation is computed from the
audit row or the answer and its version whenever it is asked for.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.translation import gettext

from .. import features
from ..models import ModelVersion
from ..refusals import Refusal, quoted
from . import registry
from .errors import ViewsiteError
from .predictors import LinearPredictor

# How a request asks for its answers' explanations (the API's `?explain=`), and how it says no.
EXPLAIN_YES = frozenset({"1", "true", "yes"})
EXPLAIN_NO = frozenset({"", "0", "false", "no"})


class ExplainFlagRefused(ViewsiteError):
    """`explain` was given a value that is neither yes nor no."""

    def __init__(self, value: str):
        self.refusal = Refusal("explain_flag", {"value": quoted(value)})
        super().__init__(str(self.refusal))


def read_explain_flag(value: str | None) -> bool:
    """Whether a request asks for explanations: `explain` absent, 0, false or no is no; 1,
    true or yes is yes (any case); anything else is refused (ExplainFlagRefused)."""
    if value is None:
        return False
    flag = value.strip().lower()
    if flag in EXPLAIN_YES:
        return True
    if flag in EXPLAIN_NO:
        return False
    raise ExplainFlagRefused(value)


@dataclass(frozen=True)
class Equation:
    """views = intercept + Σ coefficient × input, in the data's units, INPUT_NAMES' order."""

    coefficients: tuple[float, ...]
    intercept: float


@dataclass(frozen=True)
class Step:
    """One input's part of an answer, or the floor's: what it adds and the total after it, to
    the cent. For an input, its value, coefficient and (from the average) its training mean."""

    amount: float
    total: float
    feature: features.Feature | None = None  # None for the floor's step
    value: int | None = None
    coefficient: float | None = None
    mean: float | None = None

    @property
    def is_floor(self) -> bool:
        return self.feature is None


@dataclass(frozen=True)
class Waterfall:
    """A start and the steps from it to the answer served: start + Σ amounts = answer, to the
    cent. `from_average` tells whether the start is the average prediction or the intercept."""

    start: float
    steps: tuple[Step, ...]
    from_average: bool

    @property
    def answer(self) -> float:
        return self.steps[-1].total if self.steps else self.start

    @property
    def chart(self) -> "Chart":
        """Where each row's bar lies when the waterfall is drawn: the start's and the answer's
        from zero, each step's from the total before it to the total after."""
        totals = [self.start, *(step.total for step in self.steps)]
        low, high = min(0.0, *totals), max(0.0, *totals)
        span = (high - low) or 1.0

        def bar(frm: float, to: float) -> Bar:
            # At least half a percent wide, so that a step of a few views still shows.
            width = max(abs(to - frm) / span * 100, 0.5)
            x = min((min(frm, to) - low) / span * 100, 100 - width)
            return Bar(f"{x:.2f}", f"{width:.2f}")

        rows, previous = [], self.start
        for step in self.steps:
            rows.append(ChartRow(step, bar(previous, step.total)))
            previous = step.total
        zero = f"{min((0.0 - low) / span * 100, 99.5):.2f}"
        return Chart(bar(0.0, self.start), tuple(rows), bar(0.0, self.answer), zero)


@dataclass(frozen=True)
class Bar:
    """A bar's place on the chart, as percentages of its width (an SVG rect's x and width,
    written as plain numbers whatever the language)."""

    x: str
    width: str


@dataclass(frozen=True)
class ChartRow:
    step: Step
    bar: Bar


@dataclass(frozen=True)
class Chart:
    start: Bar
    rows: tuple[ChartRow, ...]
    answer: Bar
    zero: str  # where zero is, for the line every bar is read against


@dataclass(frozen=True)
class Explanation:
    """Why one answer of `version` is what it is. `computed` is the model's own figure (the
    audit row's views), `answer` the one served, both to the cent. For a linear version
    `from_intercept` always holds the parts, and `from_average` too when the version recorded
    its training means; for any other, both are None and `not_linear` says why."""

    version: ModelVersion
    computed: float
    answer: float
    from_intercept: Waterfall | None
    from_average: Waterfall | None

    @property
    def linear(self) -> bool:
        return self.from_intercept is not None

    @property
    def shown(self) -> Waterfall | None:
        """The waterfall a page draws: from the average when there is one (what people know
        from explanation tools), else from the intercept."""
        return self.from_average or self.from_intercept

    @property
    def not_linear(self) -> str:
        """For a version that is not linear, why no parts are given, in the active language."""
        if self.linear:
            return ""
        return gettext(
            "Model %(version)s (%(algorithm)s) does not compute its answer as a starting figure "
            "plus one part per input, so this answer is not broken into parts: any split would "
            "be a guess."
        ) % {"version": self.version.label, "algorithm": self.version.algorithm_title}


def explain(version: ModelVersion, likes: int, shares: int) -> Explanation:
    """Why `version` answers what it does for these likes and shares, computed afresh from its
    verified predictor (the admin's way: from an audit row). ModelUnavailable if the version
    cannot be loaded verified."""
    equation = _equation(version)
    given = {"likes": likes, "shares": shares}
    row = tuple(given[name] for name in features.INPUT_NAMES)
    # The served predictor's figure, as the answer was computed (not the equation's sum).
    computed = registry.load_predictor(version).predict([row])[0]
    served = features.served_views(computed)
    return _explanation(version, equation, row, round(computed, 2), round(served, 2))


def explain_answers(answers: Sequence) -> list[Explanation]:
    """Why each of `answers` (services.Answer, all of one request) is what it is, from the
    figures they carry and the predictor that computed them (already loaded: no new model call
    and no query)."""
    equations: dict[int, Equation | None] = {}
    explanations = []
    for answer in answers:
        version = answer.model_version
        if version.pk not in equations:
            equations[version.pk] = _equation(version)
        row = tuple(getattr(answer, name) for name in features.INPUT_NAMES)
        explanations.append(
            _explanation(version, equations[version.pk], row, answer.computed_views, answer.views)
        )
    return explanations


def _equation(version: ModelVersion) -> Equation | None:
    """The verified equation of a version whose answer is a sum of parts in the data's units
    (linear regression, ridge); None for any other. ModelUnavailable if it cannot be verified."""
    # A linear model of the logarithms has coefficients too, but its answer is a product of
    # powers, not a sum: checked before loading, as loading it would unpickle scikit-learn.
    if version.parameters.get("scale") == "log1p" or version.algorithm_name == "log-linear":
        return None
    predictor = registry.load_predictor(version)
    if isinstance(predictor, LinearPredictor):
        # Served from its verified JSON coefficients: no scikit-learn needed.
        return Equation(tuple(map(float, predictor.coefficients)), float(predictor.intercept))
    # Any other version was unpickled to answer, so scikit-learn is loaded already.
    from .algorithms import ALGORITHMS, linear_equation

    algorithm = ALGORITHMS.get(version.algorithm_name)
    if algorithm is None or algorithm.equation_scale != "views":
        return None
    # The estimator that answered (registry.load_model's, verified before it was unpickled), not
    # a fresh load: the answer's own model, with no read and no verification per request.
    estimator = predictor.estimator
    # The signature covers the artifact, not the row's algorithm name: read the equation only
    # from an estimator that is what its name says (a relabelled one is no sum of parts here).
    if type(estimator) is not type(algorithm.build()):
        return None
    equation = linear_equation(algorithm, estimator)
    if equation is None:
        return None
    coefficients, intercept = equation
    return Equation(tuple(map(float, coefficients)), intercept)


def _explanation(
    version: ModelVersion,
    equation: Equation | None,
    row: Sequence[int],
    computed: float,
    answer: float,
) -> Explanation:
    if equation is None:
        return Explanation(version, computed, answer, None, None)
    coefficients = list(equation.coefficients)
    intercept = equation.intercept
    from_intercept = _waterfall(
        intercept,
        [
            (feature, value, coefficient, None, coefficient * value)
            for feature, value, coefficient in zip(
                features.INPUT_FEATURES, row, coefficients, strict=True
            )
        ],
        computed,
        answer,
        from_average=False,
    )
    means = _training_means(version)
    from_average = None
    if means is not None:
        average = intercept + sum(c * m for c, m in zip(coefficients, means, strict=True))
        from_average = _waterfall(
            average,
            [
                (feature, value, coefficient, mean, coefficient * (value - mean))
                for feature, value, coefficient, mean in zip(
                    features.INPUT_FEATURES, row, coefficients, means, strict=True
                )
            ],
            computed,
            answer,
            from_average=True,
        )
    return Explanation(version, computed, answer, from_intercept, from_average)


def _training_means(version: ModelVersion) -> list[float] | None:
    """Each input's mean in the training data, in INPUT_NAMES' order; None for a version
    trained before summaries recorded them."""
    columns = (version.training_summary or {}).get("columns", {})
    try:
        return [float(columns[name]["mean"]) for name in features.INPUT_NAMES]
    except (KeyError, TypeError, ValueError):
        return None


def _waterfall(
    start: float, parts: list[tuple], computed: float, answer: float, *, from_average: bool
) -> Waterfall:
    """The steps from `start` to `answer`, each the difference of two running totals rounded to
    the cent; the last input's total is the model's own figure (`computed`, to the cent), so
    the parts end where the predictor did even where two ways of adding differ in the last bit."""
    previous = round(start, 2)
    running = start
    steps = []
    for index, (feature, value, coefficient, mean, exact) in enumerate(parts):
        running += exact
        total = computed if index == len(parts) - 1 else round(running, 2)
        steps.append(Step(round(total - previous, 2), total, feature, value, coefficient, mean))
        previous = total
    if answer != computed:
        # The answer served is 0 where the model computes less (features.served_views).
        steps.append(Step(round(answer - computed, 2), answer))
    return Waterfall(round(start, 2), tuple(steps), from_average)
