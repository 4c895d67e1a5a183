"""API views, one per operation: each validates its input, calls the service layer, and shapes
the answer. Errors become the one envelope in predictor.api.errors.

What the schema says of them beyond introspection is in predictor.api.schema, which only schema
generation loads: declaring it here (extend_schema) would load drf-spectacular's generator into
every worker."""

import time

from django.conf import settings
from django.db import DatabaseError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import generics, permissions, status
from rest_framework.exceptions import APIException, NotFound, Throttled, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from .. import services
from ..models import Activation, Channel, ModelVersion, Outcome, PredictionRequest
from .errors import Conflict, QueryRefused, ServiceUnavailable, as_api_exception, refusal_of
from .filters import PredictionRequestFilter
from .guide import prediction_guide
from .parsers import MalformedJSON
from .serializers import (
    ActivationSerializer,
    AuditRecordSerializer,
    ModelVersionSerializer,
    OutcomeRecordSerializer,
    OutcomeSerializer,
    PredictionInputSerializer,
    prediction_output,
)
from .throttling import ScopedThrottle


class ApiRoot(APIView):
    """viewsite's API: predict (or preview), review the history (staff), list and activate model
    versions; and, while the schema is served, its documentation pages."""

    # `name` and `description` are what the browsable API shows a person, in their language;
    # the docstrings are for us (and the schema reads those of the views below).
    name = _("API")
    description = _(
        "Predict an article's views, preview an answer, and list the model versions. Staff also "
        "read the history of predictions and record real outcomes."
    )
    # A class, not @api_view: that decorator reads APIView.schema, which imports the schema
    # class (drf-spectacular's generator) as the module loads.
    permission_classes = [permissions.AllowAny]

    def get(self, request, format=None):
        links = {
            name: reverse(f"predictor:{url_name}", request=request, format=format)
            for name, url_name in [
                ("predictions", "prediction-create"),
                ("preview", "prediction-preview"),
                ("history", "prediction-list"),
                ("models", "model-list"),
            ]
        }
        if settings.VIEWSITE_API_SCHEMA:
            for name, url_name in [
                ("schema", "schema"),
                ("docs", "api-docs"),
                ("redoc", "api-redoc"),
            ]:
                links[name] = reverse(url_name, request=request)
        return Response(links)


class PredictionCreateApi(generics.GenericAPIView):
    """POST one input or a list of inputs (a batch) to predict views. Every request is audited,
    answered or refused, before its answer leaves."""

    name = _("Predictions")
    description = _(
        "Predict an article's views from its likes and shares: send one input, or a list of "
        "them, with POST. A GET answers how to ask."
    )
    permission_classes = [permissions.AllowAny]
    serializer_class = PredictionInputSerializer
    # What a subclass changes to be another door onto the same operation (PredictionPreviewApi).
    channel = Channel.API
    takes_batches = True
    answered_status = status.HTTP_201_CREATED

    def initial(self, request, *args, **kwargs):
        self.started = time.perf_counter()
        super().initial(request, *args, **kwargs)

    def get(self, request):
        """How to ask: a 200 that describes the POST (predictor.api.guide), not a 405."""
        return Response(prediction_guide(request, batches=self.takes_batches))

    def post(self, request):
        try:
            # ?explain=1 adds each answer's parts; without it nothing more is done or sent.
            explained = services.read_explain_flag(request.query_params.get("explain"))
        except services.ExplainFlagRefused as refused:
            raise QueryRefused(refused.refusal) from refused
        inputs, batch = services.read_inputs(request.data, batches=self.takes_batches)
        try:
            records = services.predict(
                inputs=inputs,
                raw_inputs=request.data if batch else [request.data],
                info=self.request_info(),
                batch=batch,
            )
        except services.ModelUnavailable as error:  # audited by the service
            raise ServiceUnavailable(str(error)) from error
        output = prediction_output(
            records, services.explain_answers(records) if explained else None
        )
        return Response(output if batch else output[0], status=self.answered_status)

    def handle_exception(self, exc):
        # Whatever refused a prediction request (its JSON, its size, its content type, its
        # token, its input) leaves one audit row; if even that cannot be written, a 503.
        # Rate-limited requests are counted per client and minute instead (errors.py), and a
        # 503 was either audited by the service or could not be.
        if self.request.method == "POST":
            try:
                exc = self.record_refusal(exc)
            except DatabaseError as error:
                exc = error
        return super().handle_exception(exc)

    def record_refusal(self, exc: Exception) -> Exception:
        """Audit the refusal; returns the exception DRF answers it with."""
        if isinstance(exc, services.InputRefused):
            raw_inputs, errors, batch = services.refused_rows(self.request.data, exc)
            services.record_refusal(
                raw_inputs=raw_inputs,
                errors=errors,
                info=self.request_info(),
                batch=batch,
                reason="invalid_input",
            )
            return ValidationError(exc.messages())
        refusal = as_api_exception(exc)
        if not isinstance(refusal, APIException) or isinstance(
            refusal, Throttled | ServiceUnavailable
        ):
            return exc
        meta = self.request.META
        raw = {
            "content_type": meta.get("CONTENT_TYPE", ""),
            "content_length": meta.get("CONTENT_LENGTH", ""),
        }
        if isinstance(refusal, MalformedJSON):
            raw["body_excerpt"] = refusal.body_excerpt
        services.record_refusal(
            raw_inputs=[raw],
            errors=[{"request": [refusal_of(refusal)]}],
            info=self.request_info(),
            # A code of ours or DRF's: parse_error, body_too_large, not_authenticated...
            reason=refusal.default_code,
        )
        return exc

    def request_info(self) -> services.RequestInfo:
        return services.RequestInfo.from_request(
            self.request, channel=self.channel, started=getattr(self, "started", None)
        )


class PredictionPreviewApi(PredictionCreateApi):
    """POST one input to preview its prediction: the same validation, model and audit as a
    prediction, but audited as a preview and kept out of every figure about what was served."""

    name = _("Prediction preview")
    description = _(
        "See the answer the active model would give for one input, as the form does while you "
        "type. A preview is recorded, but it is not a prediction."
    )
    channel = Channel.PREVIEW
    takes_batches = False
    answered_status = status.HTTP_200_OK
    # Only the previews' own limit: typing is many requests, and none of them is a prediction.
    throttle_classes = [ScopedThrottle]
    throttle_scope = "preview"


class PredictionHistoryPagination(CursorPagination):
    """Keyset pages over the audit trail: each page starts where the last one ended, found in
    the created_at index, so page 2,000 costs what page 1 does and no request counts the table
    (an offset page read and discarded every row before it, and counted them all).

    A batch's records share one created_at, so the cursor's offset within equal timestamps must
    reach past the largest batch; each offset row is read once, from the index.
    """

    ordering = ("-created_at", "-id")

    @property
    def offset_cutoff(self) -> int:
        return settings.VIEWSITE_BATCH_MAX + self.page_size


class PredictionListApi(generics.ListAPIView):
    """The audit history of prediction requests, newest first (staff only), a page at a time:
    follow `next` and `previous`."""

    name = _("Prediction history")
    description = _(
        "Every prediction request, answered or refused, newest first (staff only). Follow "
        "`next` and `previous` to turn the pages."
    )
    queryset = PredictionRequest.objects.select_related("model_version", "user")
    serializer_class = AuditRecordSerializer
    filterset_class = PredictionRequestFilter
    pagination_class = PredictionHistoryPagination


class PredictionDetailApi(generics.RetrieveAPIView):
    """One audit record in full (staff only)."""

    name = _("Prediction")
    description = _("One prediction request in full (staff only).")
    queryset = PredictionRequest.objects.select_related("model_version", "user")
    serializer_class = AuditRecordSerializer


class CanRecordOutcomes(permissions.BasePermission):
    """Recording what really happened is a dedicated permission (superusers have it)."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.has_perm("predictor.record_outcome"))


class OutcomeApi(generics.GenericAPIView):
    """The real views of the article a prediction was made for. POST records one (a later one
    supersedes the earlier without erasing it); GET lists them, the one in force first."""

    name = _("Outcome")
    description = _(
        "The real views of the article a prediction was made for. POST records them (a later "
        "record replaces an earlier one without erasing it); GET lists them, the current one "
        "first."
    )
    permission_classes = [CanRecordOutcomes]
    serializer_class = OutcomeSerializer
    queryset = PredictionRequest.objects.all()  # what <pk> names, for the schema
    pagination_class = None  # a prediction has a handful of outcomes

    def get(self, request, pk: int):
        if not PredictionRequest.objects.filter(pk=pk).exists():
            raise NotFound(gettext("There is no prediction #%(id)s.") % {"id": pk})
        outcomes = Outcome.objects.filter(prediction_id=pk).select_related("user").order_by("-pk")
        return Response(OutcomeRecordSerializer(outcomes, many=True).data)

    def post(self, request, pk: int):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            [outcome] = services.record_outcomes(
                [services.OutcomeItem(pk, serializer.validated_data["views"])],
                source=Outcome.Source.API,
                user_id=request.user.pk,
            )
        except services.OutcomesRefused as error:
            [problem] = error.problems
            refusal = {"not_found": NotFound, "not_answered": Conflict}.get(problem.code)
            if refusal is None:
                raise ValidationError({"views": [problem.message]}) from error
            raise refusal(problem.sentence) from error
        return Response(OutcomeRecordSerializer(outcome).data, status=status.HTTP_201_CREATED)


class ModelVersionListApi(generics.ListAPIView):
    """The trained model versions with their cross-validated metrics, their live error from
    recorded outcomes (flagged when clearly worse), and which one is active."""

    name = _("Model versions")
    description = _(
        "The trained model versions with their measured accuracy, how they are doing on real "
        "outcomes, and which one is active."
    )
    permission_classes = [permissions.AllowAny]
    # What the schema reads the model from; the list itself is get_queryset's.
    queryset = ModelVersion.objects.all()
    serializer_class = ModelVersionSerializer

    def get_queryset(self):
        # Per request: with_live_error reads the served counts' checkpoint when it is called.
        return ModelVersion.objects.with_live_error()


class CanActivateModelVersions(permissions.BasePermission):
    """Switching the served model is a dedicated permission (superusers have it)."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.has_perm("predictor.activate_modelversion"))


class ModelVersionActivateApi(generics.GenericAPIView):
    """Serve this version from the next request on, on every worker and host (a rollback)."""

    name = _("Activate a model version")
    description = _("Serve this version from the next request on, everywhere (a rollback).")
    permission_classes = [CanActivateModelVersions]
    serializer_class = ModelVersionSerializer

    def post(self, request, label: str):
        number = ModelVersion.number_from_label(label)
        version = ModelVersion.objects.filter(number=number).first() if number is not None else None
        if version is None:
            raise NotFound(gettext("There is no model version %(label)s.") % {"label": label})
        activation = ActivationSerializer(data=request.data)
        activation.is_valid(raise_exception=True)
        try:
            services.activate(
                version=version,
                door=Activation.Door.API,
                user_id=request.user.pk,
                reason=activation.validated_data["reason"],
            )
        except services.ModelUnavailable as error:
            raise Conflict(str(error)) from error
        version = ModelVersion.objects.with_live_error().get(pk=version.pk)
        return Response(self.get_serializer(version).data)
