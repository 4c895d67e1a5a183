"""Finishing touches to the generated OpenAPI schema that DRF's introspection cannot see.

- The prediction body is one input or a list of up to VIEWSITE_BATCH_MAX inputs (oneOf).
- Every operation documents the error envelope for each status it can answer with, so a client
  generator (or a fuzzer checking responses against the schema) knows every possible answer.
- Those answers carry examples of what the API really says, shown by the docs pages at /api/docs/
  and /api/redoc/; predictor/tests/test_api_docs.py sends each case and compares.
- What the views and two fields declare beyond introspection (bodies, descriptions, examples) is
  here too, as drf-spectacular extensions rather than extend_schema on the views: those would
  load the schema generator (drf_spectacular.openapi, and through it rest_framework.test,
  django.test, jinja2; bench/README.md, 'Worker memory') into every worker as the views load.
  Schema generation alone loads this module, through PREPROCESSING_HOOKS (preprocess, below).
"""

import io
import json

from django.conf import settings
from django.utils.translation import gettext
from drf_spectacular.extensions import OpenApiSerializerFieldExtension, OpenApiViewExtension
from drf_spectacular.utils import (
    OpenApiExample,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions
from rest_framework.exceptions import ValidationError

from .. import services
from ..refusals import error_body, render
from ..services.outcomes import Problem
from .errors import (
    Conflict,
    RequestBodyTooLarge,
    ServiceUnavailable,
    exception_handler,
)
from .parsers import MalformedJSON, StrictJSONParser
from .serializers import (
    ActivationSerializer,
    DescribedErrorsField,
    ModelVersionSerializer,
    OutcomeRecordSerializer,
    OutcomeSerializer,
    PredictionInputSerializer,
    PredictionSerializer,
    StoredErrorsField,
)
from .views import (
    ApiRoot,
    ModelVersionActivateApi,
    OutcomeApi,
    PredictionCreateApi,
    PredictionPreviewApi,
)

ERROR_STATUSES = {
    "400": "The input is not valid (`errors` names each field), or the JSON is malformed.",
    "401": "Authentication failed or is needed for this operation.",
    "403": "Authenticated, but not allowed to do this.",
    "404": "No such resource.",
    "405": "This method is not allowed here.",
    "406": "None of the media types in Accept can be returned.",
    "409": "Not possible in this state: a model version whose artifact is missing or altered "
    "cannot be activated; a refused prediction or a preview has no answer to record an outcome "
    "for.",
    "413": "The request body is over the size limit.",
    "414": "The URL is too long (the server's request-line limit).",
    "415": "The body is not JSON.",
    "429": "Too many requests from this client; retry after the Retry-After header's seconds.",
    "503": "No model can answer, or the database is unavailable.",
}

ERROR_ENVELOPE = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, for a person."},
        "code": {"type": "string", "description": "A stable code for programs."},
        "errors": {
            "description": "Field errors: by field name, or for a batch by item index.",
            "type": "object",
            "additionalProperties": True,
        },
    },
    "required": ["detail", "code"],
}


# ------------------------------------------------------------------------------------------------
# Examples. The request bodies have names so that each refusal below sits beside its cause.
# ------------------------------------------------------------------------------------------------
ONE_INPUT = {"likes": 500, "shares": 300}
BATCH = [{"likes": 500, "shares": 300}, {"likes": 120, "shares": 40}]
INVALID_INPUT = {"likes": -1, "shares": "many"}
BATCH_WITH_INVALID_ITEM = [{"likes": 500, "shares": 300}, {"likes": 25000}]
MALFORMED_JSON = '{"likes": 500,'


def _prediction(
    id: int,
    likes: int,
    shares: int,
    views: float,
    lower: float,
    upper: float,
    extrapolation: str | None = None,
):
    return {
        "id": id,
        "likes": likes,
        "shares": shares,
        "views": views,
        "interval": {"coverage": 0.9, "lower": lower, "upper": upper},
        "model_version": "v3",
        "created_at": "2026-12-01T09:30:00.123456+08:00",
        "extrapolated": extrapolation is not None,
        "extrapolation": extrapolation,
    }


# An answer outside the training range (the sample's: likes 311 to 5,034, shares 98 to 5,034),
# as the API says it in English. The model computes -163.69 there; the answer is never below 0.
EXTRAPOLATION_EXAMPLE = (
    "120 likes is below the range the model was trained on (311 to 5,034) and 40 shares is "
    "below the range the model was trained on (98 to 5,034), so this prediction is an "
    "extrapolation and may be off."
)


# For PredictionCreateSchema below; its refusals are in error_examples().
PREDICTION_EXAMPLES = [
    OpenApiExample("One article", value=ONE_INPUT, request_only=True),
    OpenApiExample(
        "A batch",
        value=BATCH,
        request_only=True,
        description=f"Up to {settings.VIEWSITE_BATCH_MAX:,} inputs, predicted in one model call.",
    ),
    OpenApiExample(
        "Invalid input",
        value=INVALID_INPUT,
        request_only=True,
        description="Refused with 400, each field naming its errors; audited too.",
    ),
    OpenApiExample(
        "A batch with an invalid item",
        value=BATCH_WITH_INVALID_ITEM,
        request_only=True,
        description="Refused with 400 as a whole: no item of the batch is predicted.",
    ),
    OpenApiExample(
        "One article",
        value=_prediction(1041, 500, 300, 59012.37, 51873.9, 66150.84),
        response_only=True,
        status_codes=["201"],
    ),
    OpenApiExample(
        "A batch",
        value=[
            _prediction(1042, 500, 300, 59012.37, 51873.9, 66150.84),
            _prediction(1043, 120, 40, 0.0, 0.0, 30989.15, EXTRAPOLATION_EXAMPLE),
        ],
        response_only=True,
        status_codes=["201"],
        description="One answer per input, in order, all from one model version.",
    ),
]


# For PredictionPreviewSchema: one input, answered 200 with the body of a prediction.
PREVIEW_EXAMPLES = [
    OpenApiExample("One article", value=ONE_INPUT, request_only=True),
    OpenApiExample(
        "A list",
        value=BATCH,
        request_only=True,
        description="Refused with 400: a preview is one input. Audited too.",
    ),
    OpenApiExample(
        "One article",
        value=_prediction(1044, 500, 300, 59012.37, 51873.9, 66150.84),
        response_only=True,
        status_codes=["200"],
        description="Its `id` is the preview's audit row, which takes no outcome.",
    ),
]


# ------------------------------------------------------------------------------------------------
# What the views and fields declare, registered with drf-spectacular as this module loads.
# ------------------------------------------------------------------------------------------------
def preprocess(endpoints):
    """The endpoints, unchanged. Named in PREPROCESSING_HOOKS so that schema generation imports
    this module, registering the extensions below, before it inspects the first view."""
    return endpoints


class ViewSchema(OpenApiViewExtension):
    """extend_schema for the methods of one view (`methods`), applied as extend_schema_view would
    on the view, but on a subclass that stands in for it while the schema is generated."""

    methods: dict = {}

    def view_replacement(self):
        view = self.target_class
        stand_in = type(view.__name__, (view,), {"__module__": view.__module__})
        return extend_schema_view(**self.methods)(stand_in)


class ApiRootSchema(ViewSchema):
    target_class = ApiRoot
    methods = {"get": extend_schema(exclude=True)}


class PredictionCreateSchema(ViewSchema):
    target_class = PredictionCreateApi
    methods = {
        "post": extend_schema(
            # The one-or-many bodies are completed by postprocess.
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
            description='Send `{"likes": 500, "shares": 300}`, or a list of such objects (a '
            "batch, predicted in one model call). Every request is audited, accepted or not.",
            # Each refusal's examples are added with the error envelope (postprocess).
            examples=PREDICTION_EXAMPLES,
        )
    }


class PredictionPreviewSchema(ViewSchema):
    """One input in, 200 out: its own, not the batch's (a subclass's view is matched alone)."""

    target_class = PredictionPreviewApi
    methods = {
        "post": extend_schema(
            request=PredictionInputSerializer,
            responses={200: PredictionSerializer},
            description='Send `{"likes": 500, "shares": 300}` to see the answer the active model '
            "would give, as the form does while you type. It is audited with the channel "
            "`preview` and is not a prediction: it is answered 200 (nothing was created to "
            "keep), not counted in the version's served predictions, takes no outcome, and is "
            "rate-limited apart from predictions. One input only: a list is refused.",
            examples=PREVIEW_EXAMPLES,
        )
    }


class OutcomeSchema(ViewSchema):
    target_class = OutcomeApi
    methods = {
        "get": extend_schema(responses={200: OutcomeRecordSerializer(many=True)}),
        "post": extend_schema(request=OutcomeSerializer, responses={201: OutcomeRecordSerializer}),
    }


class ModelVersionActivateSchema(ViewSchema):
    target_class = ModelVersionActivateApi
    methods = {
        "post": extend_schema(request=ActivationSerializer, responses={200: ModelVersionSerializer})
    }


class DescribedErrorsFieldSchema(OpenApiSerializerFieldExtension):
    target_class = DescribedErrorsField

    def map_serializer_field(self, auto_schema, direction):
        return {
            "type": "object",
            "nullable": True,
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "Why the request was refused, field by field, in the request's "
            "language (Accept-Language): the same sentences for rows written before refusals "
            "were stored as codes and after.",
            "example": {"likes": ["Ensure this value is less than or equal to 20000."]},
        }


class StoredErrorsFieldSchema(OpenApiSerializerFieldExtension):
    target_class = StoredErrorsField

    def map_serializer_field(self, auto_schema, direction):
        return {
            "type": "object",
            "nullable": True,
            "additionalProperties": {"type": "array", "items": {}},
            "description": "The refusals exactly as the audit trail holds them, for programs: "
            '{"code", "params"} for each (see the `code` of error answers); rows written before '
            'codes were stored hold a sentence, or Django\'s {"message", "code"}, instead.',
            "example": {"likes": [{"code": "max_value", "params": {"limit_value": 20000}}]},
        }


def _example(summary: str, body: dict, description: str = "") -> dict:
    return {
        "summary": summary,
        "value": body,
        **({"description": description} if description else {}),
    }


def _answer(refusal: Exception) -> dict:
    """The body the API answers `refusal` with: from its own exception handler, as JSON.

    So the examples follow the envelope, and the request's language, wherever those change.
    """
    return json.loads(json.dumps(exception_handler(refusal, {}).data))


def _refused(serializer_class, data, *, many: bool = False) -> dict:
    """The answer to a body its serializer refuses (as the view's is_valid would raise)."""
    serializer = serializer_class(data=data, many=many)
    if serializer.is_valid():
        raise ValueError(f"{data!r} is valid")
    return _answer(ValidationError(serializer.errors))


def _prediction_refused(payload, *, batches: bool = True) -> dict:
    """The answer to a prediction body the core refuses, read as the view reads it."""
    try:
        services.read_inputs(payload, batches=batches)
    except services.InputRefused as refused:
        return _answer(ValidationError(refused.messages()))
    raise ValueError(f"{payload!r} is valid")


def _unparsable(body: str) -> dict:
    try:
        StrictJSONParser().parse(io.BytesIO(body.encode()))
    except MalformedJSON as refusal:
        return _answer(refusal)
    raise ValueError(f"{body!r} is valid JSON")


def error_examples(operation_id: str) -> dict[str, dict[str, dict]]:
    """Examples by error status for one operation: the general ones, or its own where it has them.

    Built with the schema, in its request's language. 414 has none: the server answers an
    over-long request line before the app does, with a page of its own.
    """
    return {**_general_error_examples(), **_operation_error_examples().get(operation_id, {})}


def _malformed_json() -> dict:
    return {
        "MalformedJson": _example(
            "Malformed JSON",
            _unparsable(MALFORMED_JSON),
            f"The answer to the body `{MALFORMED_JSON}`, which ends too early.",
        )
    }


def _database_unavailable() -> dict:
    return _example(
        "Database unavailable",
        _answer(ServiceUnavailable(render("database_unavailable"))),
        "Without the database no request can be audited, so none is answered.",
    )


def _invalid_token() -> dict:
    return _example(
        "An unknown token",
        _answer(exceptions.AuthenticationFailed(gettext("Invalid token."))),
        "`Authorization: Token <key>` with a key that is not, or no longer, valid.",
    )


def _not_answered() -> dict:
    problem = Problem(
        line=None,
        prediction_id=42,
        message=gettext("prediction #%(id)s was refused, so it has no answer to compare with")
        % {"id": 42},
        code="not_answered",
    )
    return _example(
        "An outcome for a refused prediction",
        _answer(Conflict(problem.sentence)),
        "From POST /api/predictions/{id}/outcome/.",
    )


def _cannot_be_served() -> dict:
    return _example(
        "Activating a version that cannot be served",
        _answer(
            Conflict(
                "Model v2 cannot be served: its artifact model-v2-5f0c9e41a7b2.joblib "
                "cannot be read."
            )
        ),
        "From POST /api/models/{label}/activate/.",
    )


def _general_error_examples() -> dict[str, dict[str, dict]]:
    return {
        "401": {
            "NotAuthenticated": _example("No credentials", _answer(exceptions.NotAuthenticated())),
            "InvalidToken": _invalid_token(),
        },
        "403": {
            "PermissionDenied": _example("Not allowed", _answer(exceptions.PermissionDenied())),
        },
        "404": {"NotFound": _example("No such resource", _answer(exceptions.NotFound()))},
        "405": {
            "MethodNotAllowed": _example(
                "Another method", _answer(exceptions.MethodNotAllowed("DELETE"))
            ),
        },
        "406": {
            "NotAcceptable": _example(
                "Accept names no JSON",
                _answer(exceptions.NotAcceptable()),
                "For example `Accept: text/csv`.",
            ),
        },
        "409": {
            "ArtifactUnavailable": _cannot_be_served(),
            "PredictionNotAnswered": _not_answered(),
        },
        "413": {"BodyTooLarge": _example("Body over the limit", _answer(RequestBodyTooLarge()))},
        "415": {
            "UnsupportedMediaType": _example(
                "Not JSON",
                _answer(exceptions.UnsupportedMediaType("text/plain")),
                "For example `Content-Type: text/plain`.",
            ),
        },
        "429": {
            "Throttled": _example(
                "Over this client's rate",
                _answer(exceptions.Throttled(wait=42)),
                "From the app, per user or client address; `Retry-After: 42` says when.",
            ),
            "RateLimitedByProxy": _example(
                "Over the address's rate at nginx",
                error_body("Too many requests from this address; slow down.", "rate_limited"),
                "From nginx, per address, before the app, in English; `Retry-After: 1`.",
            ),
        },
        "503": {"DatabaseUnavailable": _database_unavailable()},
    }


def _operation_error_examples() -> dict[str, dict[str, dict[str, dict]]]:
    no_prediction = {
        "NotFound": _example(
            "No such prediction",
            _answer(exceptions.NotFound(gettext("There is no prediction #%(id)s.") % {"id": 42})),
        )
    }
    invalid_input = {
        "InvalidInput": _example(
            "Invalid input",
            _prediction_refused(INVALID_INPUT),
            'The answer to `{"likes": -1, "shares": "many"}`: errors by field.',
        )
    }
    # Predicting (or previewing) needs no credentials, but a token that is sent must be valid,
    # and a session must come with its CSRF token (Django says why in English only).
    prediction_refusals = {
        "401": {"InvalidToken": _invalid_token()},
        "403": {
            "CsrfFailed": _example(
                "A session without its CSRF token",
                _answer(exceptions.PermissionDenied("CSRF Failed: CSRF token missing.")),
                "A client that sends a session cookie must send the X-CSRFToken header "
                "too; a token, or no credentials, needs none.",
            ),
        },
        "503": {
            "NoActiveModel": _example(
                "No model is active",
                _answer(ServiceUnavailable(render("no_active_model"))),
            ),
            "DatabaseUnavailable": _database_unavailable(),
        },
    }
    return {
        # A preview is refused as a prediction is, and for a list, which it does not take.
        "predictions_preview_create": {
            "400": {
                **invalid_input,
                "ListRefused": _example(
                    "A list",
                    _prediction_refused(BATCH, batches=False),
                    "A preview is one input; a list of them is refused as a whole.",
                ),
                **_malformed_json(),
            },
            **prediction_refusals,
        },
        "predictions_create": {
            "400": {
                **invalid_input,
                "BatchItemInvalid": _example(
                    "A batch with an invalid item",
                    _prediction_refused(BATCH_WITH_INVALID_ITEM),
                    'The answer to a batch whose item 1 (from 0) is `{"likes": 25000}`: errors '
                    "by item index, then by field.",
                ),
                **_malformed_json(),
            },
            **prediction_refusals,
        },
        "predictions_outcome_create": {
            "400": {
                "InvalidInput": _example(
                    "Invalid views",
                    _refused(OutcomeSerializer, {"views": -5}),
                    'The answer to `{"views": -5}`.',
                ),
                **_malformed_json(),
            },
            "404": no_prediction,
            "409": {"PredictionNotAnswered": _not_answered()},
        },
        "predictions_outcome_list": {"404": no_prediction},
        "models_activate_create": {
            "400": _malformed_json(),
            "404": {
                "NotFound": _example(
                    "No such version",
                    _answer(
                        exceptions.NotFound(
                            gettext("There is no model version %(label)s.") % {"label": "v9"}
                        )
                    ),
                )
            },
            "409": {"ArtifactUnavailable": _cannot_be_served()},
        },
    }


def postprocess(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_ENVELOPE
    batch = {"$ref": "#/components/schemas/PredictionInput"}
    schemas["PredictionRequestBody"] = {
        "oneOf": [
            batch,
            {
                "type": "array",
                "items": batch,
                "minItems": 1,
                "maxItems": settings.VIEWSITE_BATCH_MAX,
            },
        ]
    }
    prediction = {"$ref": "#/components/schemas/Prediction"}
    schemas["PredictionResponseBody"] = {
        "oneOf": [prediction, {"type": "array", "items": prediction}]
    }
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            examples = error_examples(operation.get("operationId", ""))
            for status, description in ERROR_STATUSES.items():
                response = responses.setdefault(status, {"description": description})
                content = {"schema": {"$ref": "#/components/schemas/Error"}}
                if status in examples:
                    content["examples"] = examples[status]
                response["content"] = {"application/json": content}
    return result
