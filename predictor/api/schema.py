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
from django.core.paginator import EmptyPage, Paginator
from django.utils.translation import gettext
from drf_spectacular.extensions import OpenApiSerializerFieldExtension, OpenApiViewExtension
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination

from .. import services
from ..refusals import error_body, render
from ..services.outcomes import Problem
from .errors import (
    Conflict,
    RequestBodyTooLarge,
    ServiceUnavailable,
    exception_handler,
)
from .guide import EXAMPLE_INPUT, prediction_guide
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

# Why each error status is answered, by who may call the operation; error_statuses() picks, for
# each operation, the ones it can give.
ERROR_STATUSES = {
    "400": "The input is not valid (`errors` names each field), or the JSON is malformed.",
    "400 explain": "The input is not valid (`errors` names each field), the JSON is malformed, "
    "or `explain` is neither yes nor no (code `invalid_query`).",
    "400 query": "A filter's value is not valid (`errors` names each parameter).",
    "401 public": "A token was sent that is not valid. None is needed: leave Authorization out "
    "to call this anonymously.",
    "401": "No credentials, or a token that is not valid.",
    "403 public": "A session cookie was sent without its CSRF token (the X-CSRFToken header).",
    "403": "Authenticated, but not allowed to do this (or a session without its CSRF token).",
    "404": "No such resource.",
    "404 page": "No such page: the `cursor` or `page` is not one this list gave.",
    "406": "None of the media types in Accept can be returned.",
    "409": "Not possible in this state: a model version whose artifact is missing or altered "
    "cannot be activated; a refused prediction or a preview has no answer to record an outcome "
    "for.",
    "413": "The request body is over the size limit.",
    "415": "The body is not JSON.",
    "429": "Too many requests from this client; retry after the Retry-After header's seconds.",
    "503 model": "No model is active, or the database is unavailable.",
    "503": "The database is unavailable.",
}
# The operations that can answer 409, and those that need a model (a 503 without one).
CONFLICTING = {"predictions_outcome_create", "models_activate_create"}
NEEDS_A_MODEL = {"predictions_create", "predictions_preview_create"}
# Query parameters that name a page, not a filter: one that is not a page is a 404.
PAGE_PARAMETERS = {"cursor", "page"}

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
ONE_INPUT = EXAMPLE_INPUT
# One answer inside the training range and one outside, to show what the second one says.
BATCH = [EXAMPLE_INPUT, {"likes": 120, "shares": 40}]
INVALID_INPUT = {"likes": -1, "shares": "many"}
BATCH_WITH_INVALID_ITEM = [EXAMPLE_INPUT, {"likes": 25000}]
MALFORMED_JSON = '{"likes": 1500,'


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


# ?explain=1, on both prediction operations (services.read_explain_flag).
EXPLAIN_PARAMETER = OpenApiParameter(
    "explain",
    str,
    OpenApiParameter.QUERY,
    required=False,
    enum=["1", "0", "true", "false", "yes", "no"],
    description="`1` (or true, yes) adds `explanation` to each answer: why it is what it is, "
    "as parts that add up to it. Left out (or 0, false, no), the answer is as it always was and "
    "costs nothing more. Any other value is refused with 400 (code `invalid_query`), audited.",
)

_STEP = {
    "type": "object",
    "properties": {
        "kind": {
            "type": "string",
            "enum": ["input", "floor"],
            "description": "`input`: one input's part. `floor`: the model computed less than "
            "0 and the answer served is 0; this step adds back what was below zero.",
        },
        "feature": {"type": "string", "nullable": True, "enum": ["likes", "shares", None]},
        "value": {"type": "integer", "nullable": True, "description": "The input's value."},
        "coefficient": {
            "type": "number",
            "nullable": True,
            "description": "Views the model adds for each one more of this input.",
        },
        "mean": {
            "type": "number",
            "nullable": True,
            "description": "In `from_average`: the input's mean in the training data.",
        },
        "contribution": {
            "type": "number",
            "description": "Views this step adds (negative: takes away), to the cent: "
            "coefficient × value from the intercept, coefficient × (value − mean) from the "
            "average. Rounded through running totals, so the steps add up exactly.",
        },
        "total": {"type": "number", "description": "The running total after this step."},
    },
    "required": ["kind", "feature", "value", "coefficient", "mean", "contribution", "total"],
}
_WATERFALL = {
    "type": "object",
    "nullable": True,
    "properties": {
        "start": {"type": "number"},
        "steps": {"type": "array", "items": _STEP},
    },
    "required": ["start", "steps"],
}
EXPLANATION = {
    "title": "Explanation",
    "description": "Why this number (asked with `?explain=1`): for a linear version, `start` "
    "plus every step's `contribution` is `views`, to the cent. Computed from the version's "
    "verified parameters; nothing more is stored.",
    "type": "object",
    "properties": {
        "linear": {
            "type": "boolean",
            "description": "Whether the version's model is a sum of parts; if not, no parts "
            "are given (they would be a guess) and `not_linear` says why.",
        },
        "computed_views": {
            "type": "number",
            "description": "The model's own figure, as the audit trail keeps it.",
        },
        "views": {"type": "number", "description": "The answer served (never below 0)."},
        "from_intercept": {
            **_WATERFALL,
            "description": "Starting from the intercept (the model's figure for an article "
            "with no likes and no shares), each input adds coefficient × value.",
        },
        "from_average": {
            **_WATERFALL,
            "description": "Starting from the average prediction (the answer for an article "
            "with the training data's mean likes and shares), each input adds coefficient × "
            "(value − mean): how far this article is from the average, in views. Null for a "
            "version trained before its means were recorded.",
        },
        "not_linear": {
            "type": "string",
            "nullable": True,
            "description": "For a version that is not linear, why no parts are given, in the "
            "request's language.",
        },
    },
    "required": ["linear", "computed_views", "views", "from_intercept", "from_average"],
}


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
        value=_prediction(1041, 1500, 1000, 174499.32, 94414.69, 254583.95),
        response_only=True,
        status_codes=["201"],
    ),
    OpenApiExample(
        "A batch",
        value=[
            _prediction(1042, 1500, 1000, 174499.32, 94414.69, 254583.95),
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
        value=_prediction(1044, 1500, 1000, 174499.32, 94414.69, 254583.95),
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


# What a GET on a prediction address answers (predictor.api.guide).
PREDICTION_GUIDE = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "How to ask, for a person."},
        "method": {"type": "string", "enum": ["POST"]},
        "content_type": {"type": "string", "enum": ["application/json"]},
        "fields": {
            "type": "object",
            "description": "Each input field: its title in the request's language, its type and "
            "bounds (inclusive).",
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "title": {"type": "string"},
                    "type": {"type": "string"},
                    "required": {"type": "boolean"},
                    "minimum": {"type": "integer"},
                    "maximum": {"type": "integer", "nullable": True},
                },
                "required": ["title", "type", "required", "minimum", "maximum"],
            },
        },
        "batch_max": {
            "type": "integer",
            "description": "Most inputs one request may send (predictions only).",
        },
        "examples": {
            "type": "object",
            "description": "One article's input (`one_article`) and, where batches are taken, a "
            "batch (`batch`), ready to send.",
            "additionalProperties": True,
        },
        "docs": {
            "type": "object",
            "description": "The schema and its documentation pages (while they are served).",
            "additionalProperties": {"type": "string", "format": "uri"},
        },
    },
    "required": ["detail", "method", "content_type", "fields", "examples"],
}


# The operations that answer how to ask, and whether they take batches; their example is the
# guide itself, built with the schema in its request's language (postprocess).
GUIDES = {"predictions_guide": True, "predictions_preview_guide": False}


def _guide(operation_id: str, what: str) -> extend_schema:
    return extend_schema(
        operation_id=operation_id,
        request=None,
        responses={200: PREDICTION_GUIDE},
        description=f"How to ask for {what}: the fields with their bounds, examples ready to "
        "send and the documentation's addresses, in the request's language. Nothing is "
        "predicted, and nothing is audited.",
    )


class PredictionCreateSchema(ViewSchema):
    target_class = PredictionCreateApi
    methods = {
        "get": _guide("predictions_guide", "a prediction"),
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
            parameters=[EXPLAIN_PARAMETER],
            description='Send `{"likes": 1500, "shares": 1000}`, or a list of such objects (a '
            "batch, predicted in one model call). Every request is audited, accepted or not. "
            "With `?explain=1` each answer carries its `explanation`.",
            # Each refusal's examples are added with the error envelope (postprocess).
            examples=PREDICTION_EXAMPLES,
        ),
    }


class PredictionPreviewSchema(ViewSchema):
    """One input in, 200 out: its own, not the batch's (a subclass's view is matched alone)."""

    target_class = PredictionPreviewApi
    methods = {
        "get": _guide("predictions_preview_guide", "a preview"),
        "post": extend_schema(
            request=PredictionInputSerializer,
            responses={200: PredictionSerializer},
            parameters=[EXPLAIN_PARAMETER],
            description='Send `{"likes": 1500, "shares": 1000}` to see the answer the active model '
            "would give, as the form does while you type. It is audited with the channel "
            "`preview` and is not a prediction: it is answered 200 (nothing was created to "
            "keep), not counted in the version's served predictions, takes no outcome, and is "
            "rate-limited apart from predictions. One input only: a list is refused.",
            examples=PREVIEW_EXAMPLES,
        ),
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
            "example": {"likes": ["Ensure this value is less than or equal to 20,000."]},
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


def error_examples(operation_id: str, *, public: bool = False) -> dict[str, dict[str, dict]]:
    """Examples by error status for one operation: the general ones, or its own where it has them.

    Built with the schema, in its request's language. A public operation needs no credentials,
    so its only 401 is for a token that is not valid.
    """
    general = _general_error_examples()
    if public:
        general["401"] = {"InvalidToken": _invalid_token()}
    return {**general, **_operation_error_examples().get(operation_id, {})}


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


def _invalid_page(number: int) -> dict:
    try:
        Paginator([], 1).validate_number(number)
    except EmptyPage as empty:
        message = PageNumberPagination.invalid_page_message.format(
            page_number=number, message=str(empty)
        )
    return _example(
        "A page past the last", _answer(exceptions.NotFound(message)), f"`?page={number}`."
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
        "predictions_history_list": {
            "404": {
                "InvalidCursor": _example(
                    "A cursor that is not one",
                    _answer(exceptions.NotFound(CursorPagination.invalid_cursor_message)),
                    "`cursor` takes only what `next` and `previous` give.",
                )
            }
        },
        "models_list": {"404": {"InvalidPage": _invalid_page(9)}},
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


def error_statuses(operation: dict) -> dict[str, str]:
    """The error answers `operation` can give, by status, each with why: from what it takes (a
    body, path or query parameters) and who may call it (security, set by drf-spectacular from
    the view's permissions; public operations have none, see postprocess).

    Every operation can be refused for an invalid token (TokenAuthentication reads any that is
    sent), for an Accept it cannot answer, for its rate (every API view is throttled) and for an
    unavailable database. None lists 405 (another method is another operation) or 414 (nginx or
    gunicorn answer an over-long request line, before the API, with a page of their own).
    """
    operation_id = operation.get("operationId", "")
    public = not operation.get("security")
    body = "requestBody" in operation
    parameters = operation.get("parameters", [])
    query = {parameter["name"] for parameter in parameters if parameter["in"] == "query"}
    statuses = {}
    if body:
        statuses["400"] = ERROR_STATUSES["400 explain" if operation_id in NEEDS_A_MODEL else "400"]
    elif query - PAGE_PARAMETERS:
        statuses["400"] = ERROR_STATUSES["400 query"]
    statuses["401"] = ERROR_STATUSES["401 public" if public else "401"]
    # A public operation refuses nobody, but a session must send its CSRF token with a body.
    if not public or body:
        statuses["403"] = ERROR_STATUSES["403 public" if public else "403"]
    if any(parameter["in"] == "path" for parameter in parameters):
        statuses["404"] = ERROR_STATUSES["404"]
    elif query & PAGE_PARAMETERS:
        statuses["404"] = ERROR_STATUSES["404 page"]
    statuses["406"] = ERROR_STATUSES["406"]
    if operation_id in CONFLICTING:
        statuses["409"] = ERROR_STATUSES["409"]
    if body:
        statuses["413"] = ERROR_STATUSES["413"]
        statuses["415"] = ERROR_STATUSES["415"]
    statuses["429"] = ERROR_STATUSES["429"]
    statuses["503"] = ERROR_STATUSES["503 model" if operation_id in NEEDS_A_MODEL else "503"]
    return statuses


def postprocess(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_ENVELOPE
    # One input and a batch, one answer and a batch's, each a component with its own name and
    # title, so that the docs offer "PredictionInput | PredictionBatch", not the same name twice.
    schemas["PredictionInput"]["title"] = "PredictionInput"
    schemas["PredictionBatch"] = {
        "title": "PredictionBatch",
        "description": "A batch: a list of inputs, predicted in one model call, all or none.",
        "type": "array",
        "items": {"$ref": "#/components/schemas/PredictionInput"},
        "minItems": 1,
        "maxItems": settings.VIEWSITE_BATCH_MAX,
    }
    schemas["PredictionRequestBody"] = {
        "oneOf": [
            {"$ref": "#/components/schemas/PredictionInput"},
            {"$ref": "#/components/schemas/PredictionBatch"},
        ]
    }
    schemas["Prediction"]["title"] = "Prediction"
    # Only with ?explain=1, so not required: without it the answer is as it was.
    schemas["Explanation"] = EXPLANATION
    schemas["Prediction"]["properties"]["explanation"] = {
        "allOf": [{"$ref": "#/components/schemas/Explanation"}],
        "description": "Only with `?explain=1`: why this answer is what it is.",
    }
    schemas["PredictionBatchAnswer"] = {
        "title": "PredictionBatchAnswer",
        "description": "A batch's answer: one prediction per input, in order.",
        "type": "array",
        "items": {"$ref": "#/components/schemas/Prediction"},
    }
    schemas["PredictionResponseBody"] = {
        "oneOf": [
            {"$ref": "#/components/schemas/Prediction"},
            {"$ref": "#/components/schemas/PredictionBatchAnswer"},
        ]
    }
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            # drf-spectacular marks an operation anyone may call with an empty requirement
            # ({}) beside the token and the session. Swagger UI leaves the padlock off only an
            # operation with no requirement at all; with {} among them it draws the padlock of
            # one already authorized, so the public operations looked locked. Without a
            # requirement the schema says the same thing: no credentials are needed.
            if {} in operation.get("security", []):
                del operation["security"]
            responses = operation.setdefault("responses", {})
            if operation.get("operationId") in GUIDES:
                # Without the request: the docs as paths, so the schema is the same on any host.
                guide = prediction_guide(None, batches=GUIDES[operation["operationId"]])
                answer = responses["200"]["content"]["application/json"]
                answer["examples"] = {"HowToAsk": {"summary": "How to ask", "value": guide}}
            examples = error_examples(
                operation.get("operationId", ""), public=not operation.get("security")
            )
            for status, description in error_statuses(operation).items():
                content = {"schema": {"$ref": "#/components/schemas/Error"}}
                if status in examples:
                    content["examples"] = examples[status]
                responses[status] = {
                    "description": description,
                    "content": {"application/json": content},
                }
    return result
