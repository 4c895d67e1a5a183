"""What a version's model card says: how it was made, how good it was, how it is really doing, and
whether the inputs it is asked about look like the data it learned from."""

from dataclasses import dataclass

from django.utils import translation
from django.utils.translation import gettext

from .. import display, features
from ..models import Activation, ModelVersion
from . import drift as drift_service
from . import plots
from .replay import ReplayReport, latest_replay


@dataclass(frozen=True)
class Term:
    coefficient: float
    label: str
    size: str  # the coefficient's size as display writes it, its sign left to the equation


@dataclass(frozen=True)
class Equation:
    """A linear model in words: 浏览量 ≈ a × 点赞数 + b × 转发数 + c (or on log(1+x))."""

    target: str
    terms: list[Term]
    intercept: float
    intercept_size: str
    log_scale: bool


@dataclass(frozen=True)
class InputDrift:
    """How the inputs served so far compare with the training data's ranges."""

    served: int
    outside: int
    ranges: dict  # input name -> {"min": ..., "max": ...} of the training data

    @property
    def share_outside(self) -> float | None:
        return self.outside / self.served if self.served else None


@dataclass(frozen=True)
class CardPlot:
    """One plot as the card shows it: in the reader's language where it was drawn in it."""

    name: str  # as stored, for its URL
    words: plots.Words  # in the active language, for its caption and alt text
    width: int
    height: int


# The drift plot's drawing area in the SVG's own units; the page scales it to its width.
DRIFT_PLOT_WIDTH, DRIFT_PLOT_HEIGHT, DRIFT_PLOT_AXIS = 400, 160, 24


@dataclass(frozen=True)
class DriftBar:
    """One bin of a drift plot, in the SVG's units (y grows downwards)."""

    x: float
    width: float
    training_y: float
    training_height: float
    served_y: float
    served_height: float


@dataclass(frozen=True)
class DriftPlot:
    """One input's training and served distributions as the card's SVG draws them."""

    feature: drift_service.FeatureDrift
    bars: list[DriftBar]
    low: str  # the axis's ends, as display writes counts
    high: str
    training_low: str
    training_high: str
    served_low: str
    served_high: str


@dataclass(frozen=True)
class DriftSection:
    """The card's drift section: the report and a plot per input of every answer served."""

    report: drift_service.VersionDrift
    plots: list[DriftPlot]
    # What the template's sentences name, from where they are decided.
    ks_max_rows: int = drift_service.DRIFT_KS_MAX_ROWS
    p_value: float = drift_service.DRIFT_P_VALUE
    distance: float = drift_service.DRIFT_DISTANCE
    plot_width: int = DRIFT_PLOT_WIDTH
    plot_height: int = DRIFT_PLOT_HEIGHT
    plot_full_height: int = DRIFT_PLOT_HEIGHT + DRIFT_PLOT_AXIS

    @property
    def windows(self) -> list[tuple[list, str]]:
        """Each window's comparisons with its caption; one, when every answer is a recent one
        (the two tables would say the same)."""
        windows = [
            (
                self.report.overall,
                gettext("Every answer it has served (%(count)s)")
                % {"count": display.count(self.report.answered)},
            )
        ]
        if self.report.answered > self.report.window:
            windows.append(
                (
                    self.report.recent,
                    gettext("Its latest %(count)s answers")
                    % {"count": display.count(self.report.window)},
                )
            )
        return windows


@dataclass(frozen=True)
class ModelCard:
    version: ModelVersion  # annotated with its live error and live_extrapolated
    equation: Equation | None
    drift: InputDrift | None
    activations: list[Activation]
    # In the order they were drawn and the columns are defined: PostgreSQL's jsonb keeps
    # neither order.
    plots: list[CardPlot]
    columns: list[tuple[features.Feature, dict]]
    zone: str  # the time zone the card's times are in, named once
    replay: ReplayReport | None = None  # its latest replay on the active version's answers
    drift_report: DriftSection | None = None  # None for a version never asked anything

    @property
    def smallest_half_width(self) -> float | None:
        """How far either side of a prediction its interval reaches at the least, in views:
        the share of the scale floor that a small prediction gets (predictors.py)."""
        share, floor = self.version.interval_relative_half_width, self.version.interval_scale_floor
        return None if share is None or floor is None else share * floor


def model_card(number: int) -> ModelCard:
    """The card of version `number`; ModelVersion.DoesNotExist if there is none."""
    version = ModelVersion.objects.with_live_error().with_served_extrapolated().get(number=number)
    return ModelCard(
        version=version,
        equation=equation(version),
        drift=input_drift(version),
        activations=list(
            version.activations.select_related("previous", "user").order_by("-pk")[:20]
        ),
        plots=card_plots(version),
        columns=[
            (feature, version.training_summary["columns"][feature.name])
            for feature in (*features.INPUT_FEATURES, features.TARGET)
            if feature.name in version.training_summary.get("columns", {})
        ],
        zone=display.zone(),
        replay=latest_replay(version),
        drift_report=drift_section(version),
    )


def drift_section(version: ModelVersion) -> DriftSection:
    """The version's drift report (services/drift.py) with a plot per input of every answer."""
    report = drift_service.version_drift(version)
    drawn = []
    if report.recorded and report.answered:
        for compared in report.overall:
            drawn.append(
                drift_plot(compared, report.training[compared.name], report.served[compared.name])
            )
    return DriftSection(report=report, plots=drawn)


def drift_plot(
    compared: drift_service.FeatureDrift,
    training: drift_service.TrainingInputs,
    served: drift_service.ServedInputs,
) -> DriftPlot:
    bins = drift_service.plot_bins(training, served)
    tallest = max(max(b.training_share, b.served_share) for b in bins) or 1.0
    step = DRIFT_PLOT_WIDTH / len(bins)
    bottom = DRIFT_PLOT_HEIGHT

    def height(share: float) -> float:
        return round(share / tallest * (DRIFT_PLOT_HEIGHT - 4), 2)

    bars = []
    for index, each in enumerate(bins):
        trained, answered = height(each.training_share), height(each.served_share)
        bars.append(
            DriftBar(
                x=round(index * step + 1, 2),
                width=round(step - 2, 2),
                training_y=round(bottom - trained, 2),
                training_height=trained,
                served_y=round(bottom - answered, 2),
                served_height=answered,
            )
        )
    return DriftPlot(
        feature=compared,
        bars=bars,
        low=display.count(round(bins[0].low)),
        high=display.count(round(bins[-1].high)),
        training_low=display.count(round(training.lowest)),
        training_high=display.count(round(training.highest)),
        served_low=display.count(round(served.lowest)),
        served_high=display.count(round(served.highest)),
    )


# The size of the plots of versions trained before every plot had the same one.
LEGACY_SIZES = {"predicted-vs-actual": (550, 500)}
LEGACY_SIZE = (550, 400)


def card_plots(version: ModelVersion) -> list[CardPlot]:
    """The version's plots in the active language; a version trained before plots were drawn
    in each language shows the one it has."""
    language = translation.get_language()
    shown = []
    for name in plots.ORDER:
        for stored in (plots.stored_name(name, language), name):
            if stored in version.plots:
                plot = version.plots[stored]
                width, height = LEGACY_SIZES.get(name, LEGACY_SIZE)
                shown.append(
                    CardPlot(
                        name=stored,
                        words=plots.words(name),
                        width=plot.get("width", width),
                        height=plot.get("height", height),
                    )
                )
                break
    return shown


def equation(version: ModelVersion) -> Equation | None:
    parameters = version.parameters
    if "coefficients" not in parameters:
        return None
    log_scale = parameters.get("scale") == "log1p"

    def named(feature):
        return f"log(1 + {feature.title})" if log_scale else str(feature.title)

    coefficients = parameters["coefficients"]
    return Equation(
        target=named(features.TARGET),
        terms=[
            Term(
                coefficients[f.name],
                named(f),
                display.coefficient(abs(coefficients[f.name]), log_scale),
            )
            for f in features.INPUT_FEATURES
        ],
        intercept=parameters["intercept"],
        intercept_size=display.coefficient(abs(parameters["intercept"]), log_scale),
        log_scale=log_scale,
    )


def input_drift(version: ModelVersion) -> InputDrift | None:
    """The share of this version's answered requests with an input outside the training range:
    there the model is extrapolating. Needs `with_live_error().with_served_extrapolated()`:
    summed from the audit trail at the served counts' checkpoint (services/served.py), which
    takes milliseconds where counting a version's rows from the start took a second at ten
    million rows."""
    ranges = version.training_ranges
    if ranges is None:
        return None  # trained before summaries were recorded
    return InputDrift(
        served=version.live_predictions, outside=version.live_extrapolated, ranges=ranges
    )
