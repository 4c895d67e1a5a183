"""API views: each validates its input, calls the service layer, and shapes the answer."""

import time

from django.db import DatabaseError
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.exceptions import APIException, NotFound, Throttled, ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from .. import services
from ..models import ModelVersion, PredictionRequest
from .errors import Conflict, ServiceUnavailable, as_api_exception
from .filters import PredictionRequestFilter
from .parsers import MalformedJSON
from .serializers import (
    AuditRecordSerializer,
    ModelVersionSerializer,
    PredictionInputSerializer,
    PredictionSerializer,
    plain_inputs,
    predictions_json,
)

NOT_PREDICTED = "Not predicted: other items in this batch are invalid."


class PredictionListCreateView(generics.ListCreateAPIView):
    """POST one input or a list of inputs to predict views; GET the audit history (staff only)."""

    name = "Predictions"
    queryset = PredictionRequest.objects.select_related("model_version", "user")
    filterset_class = PredictionRequestFilter

    def get_permissions(self):
        # Anyone may ask for a prediction; the history they leave is private to staff.
        if self.request is not None and self.request.method == "POST":
            return [permissions.AllowAny()]
        return [permissions.IsAdminUser()]

    def get_serializer_class(self):
        if self.request is not None and self.request.method == "POST":
            return PredictionInputSerializer
        return AuditRecordSerializer

    def initial(self, request, *args, **kwargs):
        self.started = time.perf_counter()
        self.audited = False
        super().initial(request, *args, **kwargs)

    @extend_schema(
        # The one-or-many bodies are completed by predictor.api.schema.postprocess.
        request=PolymorphicProxySerializer(
            component_name="PredictionRequestBody",
            serializers=[PredictionInputSerializer],
            resource_type_field_name=None,
        ),
        responses={
            201: PolymorphicProxySerializer(
                component_name="PredictionResponseBody",
                serializers=[PredictionSerializer],
                resource_type_field_name=None,
            ),
        },
        description='Send `{"likes": 500, "shares": 300}`, or a list of such objects (a batch, '
        "predicted in one model call). Every request is audited, accepted or not.",
    )
    def post(self, request, *args, **kwargs):
        payload = request.data
        batch = isinstance(payload, list)
        info = services.RequestInfo.from_request(request, channel="api", started=self.started)
        # From here on the service audits whatever happens, so handle_exception must not.
        self.audited = True
        inputs = plain_inputs(payload, batch=batch)
        if inputs is None:
            serializer = PredictionInputSerializer(data=payload, many=batch)
            if not serializer.is_valid():
                raw_inputs, errors = _refused_items(payload, serializer.errors, batch)
                services.record_rejection(
                    raw_inputs=raw_inputs, errors=errors, info=info, batch=batch
                )
                raise ValidationError(serializer.errors)
            inputs = serializer.validated_data if batch else [serializer.validated_data]
        try:
            records = services.predict(
                inputs=inputs, raw_inputs=payload if batch else [payload], info=info, batch=batch
            )
        except services.ModelUnavailable as error:
            raise ServiceUnavailable(str(error)) from error
        output = predictions_json(records)
        return Response(output if batch else output[0], status=status.HTTP_201_CREATED)

    def handle_exception(self, exc):
        # Refused before validation (bad JSON, oversized body, wrong content type, failed auth):
        # still one audit row. If even that cannot be written, the answer becomes a 503.
        # Rate-limited requests are counted per client and minute instead (predictor.api.errors).
        if (
            self.request.method == "POST"
            and not self.audited
            and not isinstance(exc, DatabaseError | Throttled)
        ):
            refusal = as_api_exception(exc)
            if isinstance(refusal, APIException):
                self.audited = True
                try:
                    self._audit_refused_request(refusal)
                except DatabaseError as error:
                    exc = error
        return super().handle_exception(exc)

    def _audit_refused_request(self, exc: APIException) -> None:
        meta = self.request.META
        raw = {
            "content_type": meta.get("CONTENT_TYPE", ""),
            "content_length": meta.get("CONTENT_LENGTH", ""),
        }
        if isinstance(exc, MalformedJSON):
            raw["body_excerpt"] = exc.body_excerpt
        info = services.RequestInfo.from_request(self.request, channel="api", started=self.started)
        services.record_rejection(
            raw_inputs=[raw], errors=[{"request": [str(exc.detail)]}], info=info
        )


def _refused_items(payload, errors, batch: bool) -> tuple[list, list]:
    """Pair each refused input with its errors: one audit row per item of a batch."""
    if not batch:
        return [payload], [errors]
    if api_settings.NON_FIELD_ERRORS_KEY in errors:
        # The list itself was refused (empty, or longer than allowed): one row tells the story
        # without writing thousands of copies of it.
        return [{"batch_length": len(payload), "first_items": payload[:3]}], [errors]
    return payload, [
        errors.get(index) or {"batch": [NOT_PREDICTED]} for index in range(len(payload))
    ]


class PredictionDetailView(generics.RetrieveAPIView):
    """One audit record in full (staff only)."""

    name = "Prediction"
    queryset = PredictionRequest.objects.select_related("model_version", "user")
    serializer_class = AuditRecordSerializer


class ModelVersionListView(generics.ListAPIView):
    """The trained model versions with their cross-validated metrics, and which one is active."""

    name = "Model versions"
    permission_classes = [permissions.AllowAny]
    queryset = ModelVersion.objects.all()
    serializer_class = ModelVersionSerializer


class CanActivateModelVersions(permissions.BasePermission):
    """Switching the served model is a dedicated permission (superusers have it)."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.has_perm("predictor.activate_modelversion"))


class ModelVersionActivateView(APIView):
    """Serve this version from the next request on, on every worker and host (a rollback)."""

    name = "Activate a model version"
    permission_classes = [CanActivateModelVersions]

    @extend_schema(request=None, responses={200: ModelVersionSerializer})
    def post(self, request, label: str):
        number = ModelVersion.number_from_label(label)
        version = ModelVersion.objects.filter(number=number).first() if number is not None else None
        if version is None:
            raise NotFound(f"There is no model version {label}.")
        try:
            services.activate(version=version)
        except services.ModelUnavailable as error:
            raise Conflict(str(error)) from error
        return Response(ModelVersionSerializer(version).data)
