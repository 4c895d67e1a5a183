"""The model's inputs and output, defined once.

The audit model's fields, the ModelForm, the API serializer, the CSV loader and the API schema all
follow these definitions, so a name, a Chinese label or a bound changes here and nowhere else.
"""

from dataclasses import dataclass

from django.core.validators import MaxValueValidator, MinValueValidator

# Inputs above this are refused rather than predicted. The course data tops out at 5,642 likes and
# 6,110 shares; a linear fit on data that ends there says nothing trustworthy about an article with
# ten times as many, and 20,000 (about 3.5x the largest observed count) leaves room for a busy
# article without pretending to know the far tail.
FEATURE_MAX = 20_000


@dataclass(frozen=True)
class Feature:
    """One column of the course file: its English name, its Chinese header and its bounds."""

    name: str
    label: str
    description: str
    min_value: int = 0
    max_value: int | None = FEATURE_MAX

    @property
    def validators(self) -> list:
        validators = [MinValueValidator(self.min_value)]
        if self.max_value is not None:
            validators.append(MaxValueValidator(self.max_value))
        return validators


LIKES = Feature("likes", "点赞数", f"Likes (点赞数): a whole number from 0 to {FEATURE_MAX:,}.")
SHARES = Feature("shares", "转发数", f"Shares (转发数): a whole number from 0 to {FEATURE_MAX:,}.")
VIEWS = Feature("views", "浏览量", "Predicted views (浏览量).", max_value=None)

# The order is the order of the model's input matrix columns; artifacts record it.
INPUT_FEATURES: tuple[Feature, ...] = (LIKES, SHARES)
TARGET = VIEWS
INPUT_NAMES: tuple[str, ...] = tuple(feature.name for feature in INPUT_FEATURES)
BY_NAME: dict[str, Feature] = {f.name: f for f in (*INPUT_FEATURES, TARGET)}
