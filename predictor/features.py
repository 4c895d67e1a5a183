"""The model's inputs and output, defined once.

The audit model's fields, the ModelForm, the API serializer, the CSV loader and the API schema all
follow these definitions, so a name, a Chinese label, a bound or the refusal of an unknown field
changes here and nowhere else.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from .refusals import Refusal

# Inputs above this are refused rather than predicted. The course data tops out at 5,642 likes and
# 6,110 shares; a linear fit on data that ends there says nothing trustworthy about an article with
# ten times as many, and 20,000 (about 3.5x the largest observed count) leaves room for a busy
# article without pretending to know the far tail.
FEATURE_MAX = 20_000


@dataclass(frozen=True)
class Feature:
    """One column of the course file: its English name, its Chinese header (the data file's
    column, whatever the page's language), what people read in their language, and its bounds."""

    name: str
    label: str
    title: str  # translated, lazily: "likes" / "点赞数"
    description: str
    min_value: int = 0
    max_value: int | None = FEATURE_MAX

    @property
    def display(self) -> str:
        return f"{self.label} ({self.name})"

    @property
    def validators(self) -> list:
        validators = [MinValueValidator(self.min_value)]
        if self.max_value is not None:
            validators.append(MaxValueValidator(self.max_value))
        return validators


LIKES = Feature(
    "likes",
    "点赞数",
    _("likes"),
    f"Likes (点赞数): a whole number from 0 to {FEATURE_MAX:,}.",
)
SHARES = Feature(
    "shares",
    "转发数",
    _("shares"),
    f"Shares (转发数): a whole number from 0 to {FEATURE_MAX:,}.",
)
VIEWS = Feature("views", "浏览量", _("views"), "Predicted views (浏览量).", max_value=None)

# A linear model is a plane, and below the articles it was trained on the plane keeps falling:
# with the sample's negative intercept, 80 likes and 12 shares compute -6,966.59 views. No article
# has fewer than no views, so the answer served is the model's figure floored at the views'
# minimum. The audit row keeps what the model computed (its `views` column), so the trail says
# what the model did and this rule says what was served: served_views(row.views). Here, beside
# the views' bounds, because every layer writes an answer: the service, the admin's titles, the
# database's live error (models.py, as Greatest). README: "Answers below zero".
VIEWS_FLOOR = float(VIEWS.min_value)


def served_views(computed: float) -> float:
    """The answer served for the model's `computed` figure: never below VIEWS_FLOOR."""
    # Written this way round so that -0.0 is served as 0.0.
    return computed if computed > VIEWS_FLOOR else VIEWS_FLOOR


# The order is the order of the model's input matrix columns; artifacts record it.
INPUT_FEATURES: tuple[Feature, ...] = (LIKES, SHARES)
TARGET = VIEWS
INPUT_NAMES: tuple[str, ...] = tuple(feature.name for feature in INPUT_FEATURES)
BY_NAME: dict[str, Feature] = {f.name: f for f in (*INPUT_FEATURES, TARGET)}


_INPUT_NAME_SET = frozenset(INPUT_NAMES)


def unknown_fields(names: Iterable) -> list[str]:
    """The names that are not inputs: a typo, or a client trying to set what only the server
    decides (views, id, model_version). Every door refuses them rather than ignore them."""
    # Most inputs name nothing else: only what is not an input's name is looked at further.
    others = [name for name in names if name not in _INPUT_NAME_SET]
    return sorted({str(name) for name in others} - _INPUT_NAME_SET) if others else []


def unknown_fields_refusal(
    names: Sequence[str], allowed: Sequence[Feature] = INPUT_FEATURES
) -> Refusal:
    """Why fields that are not inputs are refused, naming the ones that are."""
    listed = ", ".join(name[:40] for name in names[:5]) + (", …" if len(names) > 5 else "")
    accepted = ", ".join(feature.display for feature in allowed)
    return Refusal("unknown_field", {"fields": listed, "accepted": accepted})
