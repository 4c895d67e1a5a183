"""API serializers. Inputs follow the audit model's fields, which follow predictor.features."""

from collections.abc import Mapping

from django.conf import settings
from rest_framework import serializers

from .. import features
from ..models import ModelVersion, PredictionRequest


class PredictionBatchSerializer(serializers.ListSerializer):
    """A JSON list of inputs, predicted in one model call; at most VIEWSITE_BATCH_MAX of them."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", settings.VIEWSITE_BATCH_MAX)
        kwargs.setdefault("allow_empty", False)
        super().__init__(*args, **kwargs)


class PredictionInputSerializer(serializers.ModelSerializer):
    """One prediction's input: exactly `likes` and `shares`, whole numbers within bounds."""

    class Meta:
        model = PredictionRequest
        fields = features.INPUT_NAMES
        extra_kwargs = {
            feature.name: {"required": True, "allow_null": False, "help_text": feature.description}
            for feature in features.INPUT_FEATURES
        }
        list_serializer_class = PredictionBatchSerializer

    def to_internal_value(self, data):
        # A typo such as "like", or an attempt to set `views` or `id`, is an error, not ignored.
        unknown = {}
        if isinstance(data, Mapping):
            allowed = " and ".join(features.INPUT_NAMES)
            message = f"Unknown field; only {allowed} are accepted."
            unknown = {str(key): [message] for key in data if key not in self.fields}
        try:
            validated = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if unknown and isinstance(error.detail, dict):
                error.detail.update(unknown)
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return validated


class PredictionSerializer(serializers.ModelSerializer):
    """A prediction as the API returns it."""

    model_version = serializers.CharField(source="model_version.label", read_only=True)

    class Meta:
        model = PredictionRequest
        fields = ["id", *features.INPUT_NAMES, "views", "model_version", "created_at"]
        read_only_fields = fields


class AuditRecordSerializer(serializers.ModelSerializer):
    """An audit record in full, for staff."""

    model_version = serializers.CharField(
        source="model_version.label", read_only=True, allow_null=True, default=None
    )
    user = serializers.CharField(
        source="user.get_username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = PredictionRequest
        fields = [
            "id",
            "created_at",
            "channel",
            "accepted",
            *features.INPUT_NAMES,
            "views",
            "model_version",
            "errors",
            "raw_input",
            "latency_ms",
            "client_ip",
            "user_agent",
            "user",
            "batch_id",
            "batch_index",
        ]
        read_only_fields = fields


class ModelVersionSerializer(serializers.ModelSerializer):
    version = serializers.CharField(source="label", read_only=True)

    class Meta:
        model = ModelVersion
        fields = [
            "version",
            "is_active",
            "activated_at",
            "created_at",
            "algorithm",
            "features",
            "parameters",
            "cv_r2",
            "cv_mae",
            "cv_rmse",
            "cv_folds",
            "training_rows",
            "rows_filled",
            "data_file_name",
            "data_sha256",
            "artifact_sha256",
            "sklearn_version",
        ]
        read_only_fields = fields


# --- The hot path ---------------------------------------------------------------------------
# Nearly every request is a well-formed object of two in-range integers. Checking exactly that
# costs microseconds; building a ModelSerializer costs a millisecond. Anything else, even input
# that may turn out valid ("500" as a string), goes through PredictionInputSerializer, which
# accepts or explains it. Both accept exactly the same well-formed inputs (the tests check).

_INPUT_KEYS = frozenset(features.INPUT_NAMES)
_BOUNDS = tuple((f.name, f.min_value, f.max_value) for f in features.INPUT_FEATURES)
_CREATED_AT = serializers.DateTimeField()


def plain_inputs(payload, *, batch: bool) -> list[dict] | None:
    """The inputs if every item is exactly {likes: int, shares: int} within bounds, else None."""
    items = payload if batch else [payload]
    if batch and not 0 < len(items) <= settings.VIEWSITE_BATCH_MAX:
        return None
    for item in items:
        if type(item) is not dict or item.keys() != _INPUT_KEYS:
            return None
        for name, low, high in _BOUNDS:
            value = item[name]
            if type(value) is not int or not low <= value <= high:
                return None
    return items


def predictions_json(records) -> list[dict]:
    """What PredictionSerializer gives for each record, built directly (the schema is that one).

    The rows of one request share their time and version, so each is formatted once: for a
    batch of 10,000, DRF's DateTimeField cost a fifth of a second.
    """
    formatted = {}

    def once(value, format_value):
        if value not in formatted:
            formatted[value] = format_value(value)
        return formatted[value]

    return [
        {
            "id": record.pk,
            "likes": record.likes,
            "shares": record.shares,
            "views": record.views,
            "model_version": once(record.model_version, lambda version: version.label),
            "created_at": once(record.created_at, _CREATED_AT.to_representation),
        }
        for record in records
    ]
