"""Finishing touches to the generated OpenAPI schema that DRF's introspection cannot see.

- The prediction body is one input or a list of up to VIEWSITE_BATCH_MAX inputs (oneOf).
- Every operation documents the error envelope for each status it can answer with, so a client
  generator (or a fuzzer checking responses against the schema) knows every possible answer.
"""

from django.conf import settings

ERROR_STATUSES = {
    "400": "The input is not valid (`errors` names each field), or the JSON is malformed.",
    "401": "Authentication failed or is needed for this operation.",
    "403": "Authenticated, but not allowed to do this.",
    "404": "No such resource.",
    "405": "This method is not allowed here.",
    "406": "None of the media types in Accept can be returned.",
    "409": "Not possible in this state: a model version whose artifact is missing or altered "
    "cannot be activated; a refused prediction has no answer to record an outcome for.",
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
            for status, description in ERROR_STATUSES.items():
                response = responses.setdefault(status, {"description": description})
                response["content"] = {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                }
    return result
