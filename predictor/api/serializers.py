"""API serializers. Inputs follow the audit model's fields, which follow predictor.features.

The schema of the two errors fields is in predictor.api.schema (why there: predictor.api.views)."""

from collections.abc import Mapping

from django.conf import settings
from rest_framework import serializers

from .. import features, refusals, services
from ..counts import CountRefused, read_count
from ..models import Activation, ModelVersion, Outcome, PredictionRequest
from ..services.outcomes import OUTCOME_VIEWS_MAX
from .guide import EXAMPLE_INPUT


class PredictionBatchSerializer(serializers.ListSerializer):
    """A JSON list of inputs, predicted in one model call; at most VIEWSITE_BATCH_MAX of them."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", settings.VIEWSITE_BATCH_MAX)
        kwargs.setdefault("allow_empty", False)
        super().__init__(*args, **kwargs)


class CountField(serializers.IntegerField):
    """A count, for the schema and the browsable API: the serializer reads it through the core."""


def _input_field(feature: features.Feature) -> serializers.IntegerField:
    return CountField(
        min_value=feature.min_value,
        max_value=feature.max_value,
        help_text=feature.description,
        # What the browsable API's form starts with: an example to send, not nulls.
        initial=EXAMPLE_INPUT[feature.name],
    )


class PredictionInputSerializer(serializers.Serializer):
    """One prediction's input: exactly `likes` and `shares`, whole numbers within bounds, read
    by the core (services.read_input) as every door reads them.

    Declared, not a ModelSerializer: DRF builds a ModelSerializer's fields anew for every
    instance.
    """

    likes = _input_field(features.LIKES)
    shares = _input_field(features.SHARES)

    class Meta:
        list_serializer_class = PredictionBatchSerializer

    def to_internal_value(self, data):
        try:
            return services.read_input(data)
        except services.InputRefused as refused:
            raise serializers.ValidationError(refused.messages()) from refused


class IntervalSerializer(serializers.Serializer):
    """Where the real views should fall: between `lower` and `upper`, `coverage` of the time."""

    coverage = serializers.FloatField(source="model_version.interval_coverage", read_only=True)
    lower = serializers.FloatField(source="views_lower", read_only=True)
    upper = serializers.FloatField(source="views_upper", read_only=True)


class ServedViewsField(serializers.FloatField):
    """The answer served for a row's views (the model's figure): services.served_views."""

    def to_representation(self, value):
        return super().to_representation(services.served_views(value))


EXTRAPOLATED_HELP = (
    "Whether an input lies outside the range of the data the model was trained on: the answer "
    "is then an extrapolation and may be off."
)
EXTRAPOLATION_HELP = (
    "When `extrapolated`, the sentence that says which input is outside which range, in the "
    "request's language (Accept-Language); null otherwise."
)


class PredictionSerializer(serializers.ModelSerializer):
    """A prediction as the API returns it. `interval` is null only for versions trained before
    intervals existed. `views` is never below 0, and the interval holds it."""

    views = ServedViewsField(
        read_only=True,
        help_text="Predicted views (浏览量): the model's figure, or 0 where it computes less.",
    )
    interval = IntervalSerializer(source="*", read_only=True, allow_null=True)
    model_version = serializers.CharField(source="model_version.label", read_only=True)
    extrapolated = serializers.BooleanField(read_only=True, help_text=EXTRAPOLATED_HELP)
    extrapolation = serializers.SerializerMethodField(help_text=EXTRAPOLATION_HELP)

    class Meta:
        model = PredictionRequest
        fields = [
            "id",
            *features.INPUT_NAMES,
            "views",
            "interval",
            "model_version",
            "created_at",
            "extrapolated",
            "extrapolation",
        ]
        read_only_fields = fields

    def get_extrapolation(self, instance) -> str | None:
        row = [getattr(instance, name) for name in features.INPUT_NAMES]
        return services.extrapolation_sentence(instance.model_version, row) or None

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.views_lower is None:
            data["interval"] = None
        return data


class OutcomeSerializer(serializers.Serializer):
    """The real view count of the article a prediction was made for. The field describes it for
    the schema; the value is read by the core (counts.read_count, with the bounds
    services.record_outcomes applies), as `import_outcomes` and the admin have it read."""

    views = CountField(
        min_value=0,
        max_value=OUTCOME_VIEWS_MAX,
        help_text="The article's real views (浏览量), a whole number.",
    )

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            return super().to_internal_value(data)  # DRF's refusal of a body that is no object
        try:
            return {"views": read_count(data.get("views"), minimum=0, maximum=OUTCOME_VIEWS_MAX)}
        except CountRefused as refused:
            raise serializers.ValidationError({"views": [str(refused.refusal)]}) from refused


class OutcomeRecordSerializer(serializers.ModelSerializer):
    """A recorded outcome, as the API returns it."""

    prediction = serializers.PrimaryKeyRelatedField(read_only=True)
    user = serializers.CharField(
        source="user.get_username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Outcome
        fields = ["id", "prediction", "views", "recorded_at", "source", "user", "note"]
        read_only_fields = fields


class ActivationSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=Activation.REASON_MAX,
        required=False,
        allow_blank=True,
        default="",
        help_text="Why, for the activation history.",
    )


class DescribedErrorsField(serializers.Field):
    """A row's stored refusals (codes, or the sentences of older rows) said in the reader's
    language, which LocaleMiddleware has made the active one."""

    def to_representation(self, value):
        return refusals.describe_errors(value)


class StoredErrorsField(serializers.JSONField):
    """A row's stored refusals as they are, for programs (the schema says their shapes)."""


class AuditRecordSerializer(serializers.ModelSerializer):
    """An audit record in full, for staff."""

    errors = DescribedErrorsField(read_only=True)
    errors_stored = StoredErrorsField(source="errors", read_only=True)

    model_version = serializers.CharField(
        source="model_version.label", read_only=True, allow_null=True, default=None
    )
    user = serializers.CharField(
        source="user.get_username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = PredictionRequest
        # The stored JSON beside the sentences: the CSV export's errors column is that JSON.
        fields = [*PredictionRequest.AUDIT_FIELDS]
        fields.insert(fields.index("errors") + 1, "errors_stored")
        read_only_fields = fields


class LiveErrorSerializer(serializers.Serializer):
    """How a version is really doing, from recorded outcomes (`with_live_error()` annotations)."""

    predictions = serializers.IntegerField(source="live_predictions")
    outcomes = serializers.IntegerField(source="live_outcomes")
    mae = serializers.FloatField(source="live_mae", allow_null=True)
    rmse = serializers.FloatField(source="live_rmse", allow_null=True)
    mape = serializers.FloatField(source="live_mape", allow_null=True)
    interval_coverage = serializers.FloatField(source="live_coverage", allow_null=True)
    flagged = serializers.BooleanField(source="live_error_flagged")
    problem = serializers.CharField(source="live_error_problem")


class ModelVersionSerializer(serializers.ModelSerializer):
    version = serializers.CharField(source="label", read_only=True)
    live = LiveErrorSerializer(source="*", read_only=True)
    model_card = serializers.HyperlinkedIdentityField(
        view_name="predictor:model-card", lookup_field="number", lookup_url_kwarg="number"
    )

    class Meta:
        model = ModelVersion
        fields = [
            "version",
            "model_card",
            "is_active",
            "activated_at",
            "created_at",
            "algorithm_name",
            "algorithm",
            "features",
            "parameters",
            "cv_r2",
            "cv_mae",
            "cv_rmse",
            "cv_folds",
            "interval_coverage",
            "interval_relative_half_width",
            "interval_scale_floor",
            "cv_interval_coverage",
            "live",
            "fit_seconds",
            "training_rows",
            "rows_filled",
            "data_file_name",
            "data_sha256",
            "artifact_sha256",
            "sklearn_version",
        ]
        read_only_fields = fields


_CREATED_AT = serializers.DateTimeField()


def prediction_output(records, explanations=None) -> list[dict]:
    """The answer for each audit row, as PredictionSerializer documents it, each with its
    `explanation` when they are given (services.explain_answers, asked by ?explain=1).

    Built directly rather than through the serializer: the rows of one request share their time
    and version, so each is formatted once (bench/README.md). A test holds the two equal.
    """
    if not records:
        return []
    first = records[0]
    created_at = _CREATED_AT.to_representation(first.created_at)
    version = first.model_version.label
    coverage = first.model_version.interval_coverage
    output = [
        {
            "id": record.pk,
            "likes": record.likes,
            "shares": record.shares,
            "views": record.views,
            "interval": None
            if record.views_lower is None
            else {"coverage": coverage, "lower": record.views_lower, "upper": record.views_upper},
            "model_version": version,
            "created_at": created_at,
            "extrapolated": record.extrapolated,
            "extrapolation": record.extrapolation or None,
        }
        for record in records
    ]
    if explanations is not None:
        for item, explanation in zip(output, explanations, strict=True):
            item["explanation"] = explanation_output(explanation)
    return output


def explanation_output(explanation: services.Explanation) -> dict:
    """Why an answer is what it is, for programs (the schema's Explanation): both waterfalls,
    each a start and steps whose `contribution`s add up to `views` to the cent."""
    return {
        "linear": explanation.linear,
        "computed_views": explanation.computed,
        "views": explanation.answer,
        "from_intercept": _waterfall_output(explanation.from_intercept),
        "from_average": _waterfall_output(explanation.from_average),
        "not_linear": explanation.not_linear or None,
    }


def _waterfall_output(waterfall) -> dict | None:
    if waterfall is None:
        return None
    return {
        "start": waterfall.start,
        "steps": [
            {
                "kind": "floor" if step.is_floor else "input",
                "feature": None if step.is_floor else step.feature.name,
                "value": step.value,
                "coefficient": step.coefficient,
                "mean": step.mean,
                "contribution": step.amount,
                "total": step.total,
            }
            for step in waterfall.steps
        ],
    }
