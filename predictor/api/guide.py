"""What a GET on a prediction address answers: how to ask it, instead of a 405.

A person who follows /api/'s link, or a client that probes the address, learns the method, the
fields with their bounds, an example of one input (and of a batch where batches are taken) and
where the documentation is, in the request's language. Built only on GET: the POST that predicts
does none of this, and a GET predicts nothing, so it is not audited.
"""

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext

from .. import display, features

# An article inside the sample model's training range (likes 311 to 5,034, shares 98 to 5,034),
# so that the example a reader copies gets an answer the model can stand behind. The browsable
# API's form (the serializer's initial values), the guide and the schema's examples show it.
EXAMPLE_INPUT = {"likes": 1500, "shares": 1000}
EXAMPLE_BATCH = [EXAMPLE_INPUT, {"likes": 800, "shares": 500}]


def prediction_guide(request, *, batches: bool) -> dict:
    """How to ask for a prediction (`batches`) or a preview (one input) at this address.

    The docs' addresses are absolute for a `request`; without one (the schema's example), they
    are paths.
    """
    if batches:
        detail = gettext(
            "To predict an article's views, send its likes and shares as JSON with POST to this "
            "address: one object, or a list of up to %(batch_max)s objects (a batch). Every "
            "prediction is recorded."
        ) % {"batch_max": display.count(settings.VIEWSITE_BATCH_MAX)}
        examples = {"one_article": EXAMPLE_INPUT, "batch": EXAMPLE_BATCH}
    else:
        detail = gettext(
            "To preview the answer for one article, send its likes and shares as JSON with POST "
            "to this address. A preview is recorded, but it is not a prediction."
        )
        examples = {"one_article": EXAMPLE_INPUT}
    guide = {
        "detail": detail,
        "method": "POST",
        "content_type": "application/json",
        "fields": {
            feature.name: {
                "title": str(feature.title),
                "type": "integer",
                "required": True,
                "minimum": feature.min_value,
                "maximum": feature.max_value,
            }
            for feature in features.INPUT_FEATURES
        },
        **({"batch_max": settings.VIEWSITE_BATCH_MAX} if batches else {}),
        "examples": examples,
    }
    if settings.VIEWSITE_API_SCHEMA:
        guide["docs"] = {
            # Django's reverse: DRF's would carry this request's ?format= over to the pages.
            name: request.build_absolute_uri(reverse(url_name)) if request else reverse(url_name)
            for name, url_name in [
                ("schema", "schema"),
                ("swagger_ui", "api-docs"),
                ("redoc", "api-redoc"),
            ]
        }
    return guide
