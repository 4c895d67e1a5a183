"""A prediction's input as a door received it (a JSON object or list, a form, a CSV row, command
arguments), read into validated counts or refused field by field.

Every door that predicts reads through here, so one input gives the same answer or the same
refusal at each of them; the refusals are `Refusal`s, which the audit trail stores as codes.
"""

from collections.abc import Mapping, Sequence

from django.conf import settings

from .. import features
from ..counts import CountRefused, read_count
from ..refusals import Refusal, quoted
from .errors import ViewsiteError

# The key of a refusal that concerns the whole input (or the whole batch), not one field: DRF's
# name for it, so the API's envelope reads as DRF's own.
WHOLE_INPUT = "non_field_errors"
# The key under which a good item of a refused batch says it was not predicted either.
NOT_PREDICTED = "batch"


class InputRefused(ViewsiteError):
    """The input cannot be predicted. `errors` is {field: [Refusal]} for one input, a list of
    those for a batch (an empty dict for a good item of a bad batch)."""

    def __init__(self, errors):
        super().__init__(str(Refusal("invalid")))
        self.errors = errors

    @property
    def batch(self) -> bool:
        return isinstance(self.errors, list)

    def messages(self):
        """The errors in the active language, for an answer: {field: [sentence]}, or for a
        batch {index: {field: [sentence]}} of the bad items only."""
        if self.batch:
            return {index: _messages(item) for index, item in enumerate(self.errors) if item}
        return _messages(self.errors)


def read_input(data) -> dict[str, int]:
    """One input: exactly the input features, each a count within its bounds."""
    if not isinstance(data, Mapping):
        raise InputRefused({WHOLE_INPUT: [Refusal("not_an_object", {"type": _type_name(data)})]})
    errors: dict[str, list[Refusal]] = {}
    values = {}
    for feature in features.INPUT_FEATURES:
        try:
            values[feature.name] = read_count(
                data.get(feature.name), minimum=feature.min_value, maximum=feature.max_value
            )
        except CountRefused as refused:
            errors[feature.name] = [refused.refusal]
    unknown = features.unknown_fields(data)
    if unknown:
        refusal = features.unknown_fields_refusal(unknown)
        errors.update({name: [refusal] for name in unknown})
    if errors:
        raise InputRefused(errors)
    return values


def read_inputs(payload, *, batches: bool = True) -> tuple[list[dict[str, int]], bool]:
    """One input (an object) or a batch (a list of at most VIEWSITE_BATCH_MAX), and whether it
    was a batch. A batch is predicted whole or not at all: one bad item refuses every item, and
    the good ones say why. Where batches are not taken, a list is refused as an input."""
    if not batches or not isinstance(payload, list):
        return [read_input(payload)], False
    limit = settings.VIEWSITE_BATCH_MAX
    if not payload:
        raise InputRefused({WHOLE_INPUT: [Refusal("batch_empty")]})
    if len(payload) > limit:
        raise InputRefused(
            {WHOLE_INPUT: [Refusal("batch_too_long", {"limit": limit, "length": len(payload)})]}
        )
    inputs, errors = [], []
    for item in payload:
        try:
            inputs.append(read_input(item))
            errors.append({})
        except InputRefused as refused:
            errors.append(refused.errors)
    if any(errors):
        # Good items stay empty here: the answer names the bad ones, and refused_rows gives
        # each good one its "not predicted" row.
        raise InputRefused(errors)
    return inputs, True


def _messages(errors: Mapping) -> dict[str, list[str]]:
    return {name: [str(refusal) for refusal in refusals] for name, refusals in errors.items()}


def _type_name(value) -> str:
    names = {list: "list", str: "str", int: "int", float: "float", bool: "bool"}
    return names.get(type(value), "null" if value is None else quoted(type(value).__name__))


def stored_errors(errors: Sequence | Mapping):
    """Refusals as the audit trail keeps them: codes and parameters."""
    if isinstance(errors, Refusal):
        return errors.stored()
    if isinstance(errors, Mapping):
        return {name: stored_errors(value) for name, value in errors.items()}
    if isinstance(errors, list | tuple):
        return [stored_errors(item) for item in errors]
    return errors


def refused_rows(payload, refused: InputRefused) -> tuple[list, list, bool]:
    """The audit rows of a refused input: (raw inputs, their errors, whether a batch). Each item
    of a batch is a row; a batch refused whole (empty, too long) is one row that tells the story
    without writing thousands of copies of it."""
    if not refused.batch:
        if isinstance(payload, list):
            head = {"batch_length": len(payload), "first_items": payload[:3]}
            return [head], [refused.errors], False
        return [payload], [refused.errors], False
    not_predicted = {NOT_PREDICTED: [Refusal("not_predicted")]}
    return list(payload), [item or not_predicted for item in refused.errors], True
