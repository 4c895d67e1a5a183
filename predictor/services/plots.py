"""The model card's diagnostic plots, drawn once at retrain time from the cross-validation.

Every point is an out-of-fold prediction (the model had not seen that row), so the plots show the
error people will meet, not the training fit. They are PNG files stored beside the artifact with
their sha256, so a card shows exactly what `retrain` drew. matplotlib is used through its
object-oriented `Figure` (no pyplot, no global state, no display) and imported only here.
"""

import io
from dataclasses import dataclass

import numpy as np

from .. import features

# The plots `draw` makes, in the order it makes them (and a card shows them).
ORDER = ("predicted-vs-actual", *(f"residuals-{f.name}" for f in features.INPUT_FEATURES))


@dataclass(frozen=True)
class Plot:
    name: str
    title: str
    image: bytes


def draw(*, inputs: np.ndarray, target: np.ndarray, predicted: np.ndarray, half_widths):
    """Predicted against actual, and the residual against each input; the points the interval
    missed are drawn in another colour."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import StrMethodFormatter

    thousands = StrMethodFormatter("{x:,.0f}")

    residuals = target - predicted
    missed = np.abs(residuals) > half_widths

    def scatter(axes, x, y):
        axes.xaxis.set_major_formatter(thousands)
        axes.yaxis.set_major_formatter(thousands)
        for rows, color, label in (
            (~missed, "#2563eb", "inside interval"),
            (missed, "#dc2626", "outside"),
        ):
            axes.scatter(x[rows], y[rows], s=6, alpha=0.5, color=color, linewidths=0, label=label)

    def render(figure) -> bytes:
        buffer = io.BytesIO()
        # No software version in the file: the same model draws the same bytes.
        figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
        return buffer.getvalue()

    plots = []
    figure = Figure(figsize=(5.5, 5), layout="constrained")
    axes = figure.subplots()
    scatter(axes, target, predicted)
    top = float(max(target.max(initial=0), predicted.max(initial=0)))
    axes.plot([0, top], [0, top], color="#111827", linewidth=1, label="predicted = actual")
    axes.set_xlabel(f"actual {features.TARGET.name}")
    axes.set_ylabel(f"predicted {features.TARGET.name} (out of fold)")
    axes.legend(loc="upper left")
    plots.append(Plot("predicted-vs-actual", "Predicted against actual views", render(figure)))

    for column, feature in enumerate(features.INPUT_FEATURES):
        figure = Figure(figsize=(5.5, 4), layout="constrained")
        axes = figure.subplots()
        scatter(axes, inputs[:, column], residuals)
        axes.axhline(0, color="#111827", linewidth=1)
        axes.set_xlabel(feature.name)
        axes.set_ylabel("actual − predicted views")
        axes.legend(loc="upper right")
        plots.append(
            Plot(f"residuals-{feature.name}", f"Residuals against {feature.name}", render(figure))
        )
    return plots
