"""The model card's diagnostic plots, drawn once at retrain time from the cross-validation.

Every point is an out-of-fold prediction (the model had not seen that row), so the plots show the
error people will meet, not the training fit. They are PNG files stored beside the artifact with
their sha256, so a card shows exactly what `retrain` drew. matplotlib is used through its
object-oriented `Figure` (no pyplot, no display) and imported only here; its settings (the font)
are scoped to one `draw` by `rc_context`.

Each plot is drawn once in every language of the site, its words and its numbers as the card's
reader reads them, in a font with Chinese glyphs (VIEWSITE_PLOT_FONT): a card in Chinese shows
`<name>-zh-hans`, one in English `<name>-en`. The words are `words(name)`, which the card also
states in the page (the images' alt text), so a reader who cannot see a plot reads what it says.
"""

import io
import logging
from dataclasses import dataclass
from functools import cache

import numpy as np
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from .. import display, features

logger = logging.getLogger(__name__)

# The plots `draw` makes, in the order a card shows them.
ORDER = ("predicted-vs-actual", *(f"residuals-{f.name}" for f in features.INPUT_FEATURES))
# Every plot the same size, so that a card lays them out as a set; 500 × 400 px.
SIZE_INCHES = (5, 4)
DPI = 100
# Large enough to read once a phone shows the plot 330 px wide.
FONT_SIZE = 12
INSIDE_COLOUR, OUTSIDE_COLOUR, LINE_COLOUR = "#2563eb", "#dc2626", "#111827"


@dataclass(frozen=True)
class Plot:
    name: str  # as stored: the plot's name and its language, "residuals-likes-zh-hans"
    language: str
    title: str
    image: bytes


@dataclass(frozen=True)
class Words:
    """Every word a plot shows, in the language that was active when `words` made them."""

    title: str
    across: str  # the horizontal axis
    up: str  # the vertical axis
    line: str
    inside: str
    outside: str
    description: str  # the plot in a sentence or two, for the page that shows it (its alt text)


def words(name: str) -> Words:
    """What plot `name` ("predicted-vs-actual", "residuals-likes") says, in the active language."""
    said = {"inside": gettext("inside its range"), "outside": gettext("outside its range")}
    if name == "predicted-vs-actual":
        said |= {
            "title": gettext("Predicted views against actual views"),
            "across": gettext("actual views"),
            "up": gettext("predicted views"),
            "line": gettext("a perfect prediction"),
        }
    else:
        feature = features.BY_NAME[name.removeprefix("residuals-")]
        said |= {
            "title": gettext("How far off the predictions were, by %(input)s")
            % {"input": feature.title},
            "across": str(feature.title),
            "up": gettext("actual minus predicted views"),
            "line": gettext("no miss at all"),
        }
    description = (
        gettext(
            "%(title)s. A scatter plot: across, %(across)s; up, %(up)s. Blue points are "
            "%(inside)s, red points %(outside)s; the line is %(line)s."
        )
        % said
    )
    return Words(**said, description=description)


def stored_name(name: str, language: str) -> str:
    """The name plot `name` drawn in `language` is stored under."""
    return f"{name}-{language}"


def draw(*, inputs: np.ndarray, target: np.ndarray, predicted: np.ndarray, half_widths):
    """Predicted against actual, and the residual against each input, in every language of the
    site; the points the interval missed are drawn in another colour."""
    from matplotlib import rc_context

    residuals = target - predicted
    missed = np.abs(residuals) > half_widths
    plots = []
    for language, _ in settings.LANGUAGES:
        with translation.override(language), rc_context(_style(language)):
            plots.append(_plot("predicted-vs-actual", language, target, predicted, missed))
            for column, feature in enumerate(features.INPUT_FEATURES):
                name = f"residuals-{feature.name}"
                plots.append(_plot(name, language, inputs[:, column], residuals, missed))
    return plots


def _plot(name: str, language: str, x, y, missed) -> Plot:
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    said = words(name)
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    axes = figure.subplots()
    # Whole numbers as the page writes them (grouped in both languages), and few enough ticks
    # that "800,000" never runs into its neighbour. (A NumPy float64 is made a float: its repr,
    # which display reads, is "np.float64(...)".)
    counts = FuncFormatter(lambda value, position: display.count(float(value)))
    for axis, bins in ((axes.xaxis, 4), (axes.yaxis, 5)):
        axis.set_major_locator(MaxNLocator(nbins=bins))
        axis.set_major_formatter(counts)
    for rows, colour, label in (
        (~missed, INSIDE_COLOUR, said.inside),
        (missed, OUTSIDE_COLOUR, said.outside),
    ):
        axes.scatter(x[rows], y[rows], s=6, alpha=0.5, color=colour, linewidths=0, label=label)
    if name == "predicted-vs-actual":
        top = float(max(x.max(initial=0), y.max(initial=0)))
        axes.plot([0, top], [0, top], color=LINE_COLOUR, linewidth=1, label=said.line)
        corner = "upper left"
    else:
        axes.axhline(0, color=LINE_COLOUR, linewidth=1, label=said.line)
        corner = "upper right"
    axes.set_xlabel(said.across)
    axes.set_ylabel(said.up)
    axes.legend(loc=corner, fontsize="small", markerscale=2)
    buffer = io.BytesIO()
    # No software version in the file: the same model draws the same bytes.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return Plot(stored_name(name, language), language, said.title, buffer.getvalue())


def _style(language: str) -> dict:
    """matplotlib's settings for one language's plots: VIEWSITE_PLOT_FONT's face for that
    language (Noto Sans CJK SC for Chinese) when the font is installed."""
    faces = _faces(str(settings.VIEWSITE_PLOT_FONT))
    style = {"font.size": FONT_SIZE}
    if faces:
        simplified = [face for face in faces if face.endswith(" SC")]
        chosen = simplified[0] if language.startswith("zh") and simplified else faces[0]
        style["font.family"] = [chosen, "DejaVu Sans"]
    return style


@cache  # registering a font once per process is enough
def _faces(path: str) -> list[str]:
    """The families of the faces in the font file at `path`, registered with matplotlib; none
    (and a warning) when it is missing."""
    from matplotlib import font_manager

    try:
        font_manager.fontManager.addfont(path)
    except OSError:
        logger.warning(
            "plot font missing path=%s: Chinese plots will show boxes for their words", path
        )
        return []
    registered = font_manager.fontManager.ttflist
    return list(dict.fromkeys(entry.name for entry in registered if entry.fname == path))
