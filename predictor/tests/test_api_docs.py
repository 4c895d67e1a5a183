"""The API docs pages (/api/docs/ Swagger UI, /api/redoc/ Redoc) and the examples in the schema.

The pages follow VIEWSITE_API_SCHEMA, load only this site's static files, and run no inline script
under the Content-Security-Policy. Every error example of the prediction operation is the error
envelope, and wherever the case can be brought about here it is what the API answers to it.
"""

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError
from django.urls import resolve, reverse
from django.utils.html import escapejs
from rest_framework import permissions
from rest_framework.test import APIClient

from predictor.api.errors import as_api_exception, error_body
from predictor.api.schema import (
    BATCH,
    BATCH_WITH_INVALID_ITEM,
    ERROR_ENVELOPE,
    INVALID_INPUT,
    MALFORMED_JSON,
    ONE_INPUT,
)
from predictor.models import PredictionRequest

from . import live
from .conftest import remove_stored_file
from .test_settings import run_probe

ROOT = Path(settings.BASE_DIR)
PREDICTIONS = reverse("predictor:prediction-create")
DOCS_PAGES = ["api-docs", "api-redoc"]
# What Swagger UI and Redoc are given: they speak English only (viewsite/urls.py).
ENGLISH_SCHEMA = f"{reverse('schema')}?lang=en"


# --- The pages ------------------------------------------------------------------------------------


class Page(HTMLParser):
    """Every tag of a page with its attributes, and whether an element had text inside it."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.inline_text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        if self.tags and self.tags[-1][0] in {"script", "style"} and data.strip():
            self.inline_text.append(data.strip()[:80])

    def urls(self) -> list[str]:
        return [
            attrs[name]
            for _, attrs in self.tags
            for name in ("src", "href", "data-spec-url")
            if name in attrs
        ]


def policy(response) -> dict[str, list[str]]:
    directives = (part.split() for part in response["Content-Security-Policy"].split(";"))
    return {name: values for name, *values in directives}


@pytest.mark.parametrize("page", DOCS_PAGES)
def test_the_docs_pages_are_served_with_the_schema_on(client, db, page):
    response = client.get(reverse(page))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"


def test_swagger_ui_loads_its_start_script_from_its_own_url(client, db):
    page = Page(client.get(reverse("api-docs")).content.decode())
    [start] = [
        attrs["src"]
        for tag, attrs in page.tags
        if tag == "script" and "?script" in attrs.get("src", "")
    ]

    script = client.get(start)

    assert script.status_code == 200
    assert script["Content-Type"] == "application/javascript"
    # Swagger UI is given the English schema, whatever the reader's language (escaped for a
    # JavaScript string, as drf-spectacular writes it).
    assert f'url: "{escapejs(ENGLISH_SCHEMA)}"' in script.content.decode()


# The container each tool draws into.
TOOL = {"api-docs": "swagger-ui", "api-redoc": "redoc-container"}


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("page", DOCS_PAGES)
def test_the_docs_pages_frame_the_english_tool_in_the_readers_language(client, db, page, language):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    html = client.get(reverse(page)).content.decode()
    tags = Page(html).tags

    [(_, root)] = [(tag, attrs) for tag, attrs in tags if tag == "html"]
    assert root["lang"] == language
    [(_, tool)] = [(tag, attrs) for tag, attrs in tags if attrs.get("id") == TOOL[page]]
    assert tool["lang"] == "en"
    # A Chinese reader is told why the reference is in English; an English reader need not be.
    said = "展示它们的工具没有中文版" in html
    assert said == (language == "zh-hans")
    if page == "api-redoc":
        assert tool["data-spec-url"] == ENGLISH_SCHEMA


def test_the_english_schema_is_english_for_a_chinese_reader(client, db):
    english = fetch_schema(client, "en")
    chinese = fetch_schema(client, "zh-hans")
    # As the docs pages ask for it, from a browser set to Chinese.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    given = client.get(ENGLISH_SCHEMA, HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert chinese != english
    assert json.loads(given.content) == english


SWITCH_PROBE = """
import django; django.setup()
from django.test import Client
client = Client(HTTP_HOST="127.0.0.1")
paths = ("/api/schema/", "/api/docs/", "/api/redoc/")
print("PROBE", *(client.get(path).status_code for path in paths))
"""


def test_the_docs_pages_follow_the_schema_switch(collected_static, tmp_path):
    assert (
        run_probe(collected_static, SWITCH_PROBE, VIEWSITE_VAR_DIR=str(tmp_path)) == "200 200 200"
    )
    assert (
        run_probe(
            collected_static,
            SWITCH_PROBE,
            VIEWSITE_VAR_DIR=str(tmp_path),
            VIEWSITE_API_SCHEMA="false",
        )
        == "404 404 404"
    )


@pytest.mark.parametrize("page", DOCS_PAGES)
def test_the_docs_pages_load_only_this_sites_own_files(client, db, collected_static, page):
    html = client.get(reverse(page)).content.decode()
    urls = Page(html).urls()

    assert urls
    # Nothing from another host: no CDN, no web fonts, no protocol-relative URL.
    assert not re.search(r"https?://|//[a-z]", html, flags=re.IGNORECASE), html
    for url in urls:
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        if url.startswith(settings.STATIC_URL):
            # Collected with its hashed name, so WhiteNoise (or nginx) serves it from here.
            assert (collected_static / url.removeprefix(settings.STATIC_URL)).is_file(), url
    static = [url for url in urls if url.startswith(settings.STATIC_URL)]
    assert any("drf_spectacular_sidecar" in url for url in static), static


@pytest.mark.parametrize("page", DOCS_PAGES)
def test_the_docs_pages_run_no_inline_script_or_style(client, db, page):
    response = client.get(reverse(page))
    parsed = Page(response.content.decode())
    directives = policy(response)

    assert directives["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in directives["style-src"]
    assert parsed.inline_text == []
    for tag, attrs in parsed.tags:
        assert tag != "style"
        assert "style" not in attrs, tag
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        if tag == "script":
            assert attrs.get("src"), attrs


def test_only_redoc_gets_a_style_nonce_and_it_is_new_for_each_response(client, db):
    def nonce_of(response):
        [nonce] = [
            attrs["nonce"]
            for tag, attrs in Page(response.content.decode()).tags
            if tag == "meta" and attrs.get("property") == "csp-nonce"
        ]
        return nonce

    first, second = client.get(reverse("api-redoc")), client.get(reverse("api-redoc"))

    assert f"'nonce-{nonce_of(first)}'" in policy(first)["style-src"]
    assert len(nonce_of(first)) >= 22
    assert nonce_of(first) != nonce_of(second)
    assert not any(
        value.startswith("'nonce-")
        for value in policy(client.get(reverse("api-docs")))["style-src"]
    )


# --- The schema -----------------------------------------------------------------------------------


def test_the_schema_validates_without_a_warning(tmp_path):
    target = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    assert "/api/predictions/" in target.read_text()


# What answering loads: the schema's modules only when the schema is asked for (a worker held
# 5 MB more with them; bench/README.md, 'Worker memory'). Served straight through the WSGI
# application, as gunicorn serves it, in a process of its own: this one has them all loaded.
WORKER_PROBE = """
import io, json, sys
from wsgiref.util import setup_testing_defaults
from viewsite.wsgi import application

def serve(method, path, body=b""):
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "HTTP_HOST": "127.0.0.1",
        "HTTP_ACCEPT": "application/json", "HTTP_ACCEPT_LANGUAGE": "en",
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    setup_testing_defaults(environ)
    started = []
    response = application(environ, lambda status, headers, exc_info=None: started.append(status))
    content = b"".join(response)
    response.close()
    return int(started[0].split()[0]), content

SCHEMA_MODULES = (
    "drf_spectacular.openapi", "drf_spectacular.generators", "drf_spectacular.utils",
    "predictor.api.schema", "rest_framework.test", "django.test",
)
def loaded():
    return sorted(name for name in SCHEMA_MODULES if name in sys.modules)

status, answer = serve("POST", "/api/predictions/", json.dumps({"likes": 5, "shares": 7}).encode())
history = serve("GET", "/api/predictions/history/")[0]
print("PROBE", json.dumps({
    "prediction": [status, json.loads(answer)["model_version"]],
    "history": history,
    "loaded after answering": loaded(),
    "schema": json.loads(serve("GET", "/api/schema/")[1]),
    "loaded after the schema": loaded(),
}))
"""


def test_a_worker_answers_without_loading_the_schema_generator_until_the_schema_is_asked_for(
    client, transactional_db, linear_csv, trained_models, artifact_root, collected_static
):
    trained_models.store(linear_csv)
    env = live.app_env(artifact_root=artifact_root, static_root=collected_static, workers=1)
    result = subprocess.run(
        [sys.executable, "-c", WORKER_PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    [line] = [line for line in result.stdout.splitlines() if line.startswith("PROBE ")]
    probe = json.loads(line.removeprefix("PROBE "))

    assert probe["prediction"] == [201, "v1"]
    assert probe["history"] == 401
    assert probe["loaded after answering"] == []
    # Asked for, the schema is the whole of it: the extensions in predictor.api.schema are
    # loaded by its generation (PREPROCESSING_HOOKS), in a process that had none of them.
    assert probe["schema"] == fetch_schema(client)
    assert {
        "drf_spectacular.openapi",
        "predictor.api.schema",
    } <= set(probe["loaded after the schema"])


def test_the_schema_refuses_another_method_as_every_api_view_does(db):
    # Loaded on its first request, the view is still exempt from Django's CSRF check as DRF's
    # views are: DRF answers, not the middleware (which would say 403 to a POST without a token).
    client = APIClient(enforce_csrf_checks=True)

    response = client.post(reverse("schema"))

    assert response.status_code == 405


def fetch_schema(client, language: str = "en") -> dict:
    response = client.get(
        reverse("schema"),
        HTTP_ACCEPT="application/vnd.oai.openapi+json",
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 200
    return json.loads(response.content)


@pytest.fixture
def schema(client, db) -> dict:
    return fetch_schema(client)


def examples_of(schema, status: str, path: str = PREDICTIONS, method: str = "post") -> dict:
    response = schema["paths"][path][method]["responses"][status]
    return {
        name: example["value"]
        for name, example in response["content"]["application/json"].get("examples", {}).items()
    }


def test_every_error_status_of_the_prediction_operation_has_envelope_examples(schema):
    responses = schema["paths"][PREDICTIONS]["post"]["responses"]
    errors = [status for status in responses if int(status) >= 400]

    assert errors == ["400", "401", "403", "406", "413", "415", "429", "503"]
    for status in errors:
        examples = examples_of(schema, status)
        assert examples, status
        for name, body in examples.items():
            jsonschema.validate(body, ERROR_ENVELOPE)
            assert set(body) <= {"detail", "code", "errors"}, (status, name)
            assert body["detail"], (status, name)
            assert body["code"], (status, name)


# What each operation can answer besides its success: a body can be invalid, too large or not
# JSON (400, 413, 415), and a session must send its CSRF token with one (403); staff operations
# refuse other callers (401, 403); a path names what may not exist, and a page number or cursor
# may name no page (404); a filter may be invalid (400); only an outcome and an activation can
# conflict (409); only a prediction needs a model (its 503 says so). Any operation can meet an
# invalid token (401), an Accept it cannot answer (406), its rate limit (429) and a database
# that is down (503).
EVERY_OPERATION = {"401", "406", "429", "503"}
OPERATION_ERRORS = {
    ("/api/predictions/", "get"): EVERY_OPERATION,
    ("/api/predictions/", "post"): EVERY_OPERATION | {"400", "403", "413", "415"},
    ("/api/predictions/preview/", "get"): EVERY_OPERATION,
    ("/api/predictions/preview/", "post"): EVERY_OPERATION | {"400", "403", "413", "415"},
    ("/api/predictions/history/", "get"): EVERY_OPERATION | {"400", "403", "404"},
    ("/api/predictions/{id}/", "get"): EVERY_OPERATION | {"403", "404"},
    ("/api/predictions/{id}/outcome/", "get"): EVERY_OPERATION | {"403", "404"},
    ("/api/predictions/{id}/outcome/", "post"): EVERY_OPERATION
    | {"400", "403", "404", "409", "413", "415"},
    ("/api/models/", "get"): EVERY_OPERATION | {"404"},
    ("/api/models/{label}/activate/", "post"): EVERY_OPERATION
    | {"400", "403", "404", "409", "413", "415"},
}


def test_each_operation_lists_only_the_errors_it_can_give(schema):
    listed = {
        (path, method): {status for status in operation["responses"] if int(status) >= 400}
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }

    assert listed == OPERATION_ERRORS
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status in OPERATION_ERRORS[path, method]:
                answer = operation["responses"][status]["content"]["application/json"]
                assert answer["schema"] == {"$ref": "#/components/schemas/Error"}, (path, status)


def test_what_every_operation_lists_holds_for_its_view(schema):
    # 429 on every operation: every API view is throttled. No credentials asked of an operation
    # exactly where its view lets anyone in.
    for path, item in schema["paths"].items():
        view = resolve(path.replace("{id}", "1").replace("{label}", "v1")).func.view_class
        assert view.throttle_classes, path
        public = permissions.AllowAny in view.permission_classes
        for method, operation in item.items():
            assert ("security" not in operation) == public, (path, method)


def test_only_a_prediction_says_a_missing_model_is_why_it_is_unavailable(schema):
    unavailable = {
        (path, method): operation["responses"]["503"]["description"]
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }

    assert {key for key, why in unavailable.items() if "model" in why} == {
        ("/api/predictions/", "post"),
        ("/api/predictions/preview/", "post"),
    }


def test_a_public_operation_needs_no_credentials_and_a_staff_one_a_token_or_a_session(schema):
    # Swagger UI draws no lock where nothing is required, and the lock to open (Authorize)
    # where a token or a session is.
    security = {
        (path, method): operation.get("security")
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }
    public = {key for key, required in security.items() if required is None}

    assert public == {
        ("/api/predictions/", "get"),
        ("/api/predictions/", "post"),
        ("/api/predictions/preview/", "get"),
        ("/api/predictions/preview/", "post"),
        ("/api/models/", "get"),
    }
    assert "security" not in schema
    for key in security.keys() - public:
        assert security[key] == [{"tokenAuth": []}, {"cookieAuth": []}], key


def test_a_public_operation_lists_only_an_invalid_token_as_its_401(schema):
    for path in ("/api/predictions/", "/api/models/"):
        assert set(examples_of(schema, "401", path=path, method="get")) == {"InvalidToken"}
    history = examples_of(schema, "401", path="/api/predictions/history/", method="get")
    assert set(history) == {"NotAuthenticated", "InvalidToken"}


def test_one_input_and_a_batch_are_two_components_with_their_own_names(schema):
    components = schema["components"]["schemas"]
    body = schema["paths"][PREDICTIONS]["post"]["requestBody"]["content"]["application/json"]
    answer = schema["paths"][PREDICTIONS]["post"]["responses"]["201"]["content"]

    assert body["schema"] == {"$ref": "#/components/schemas/PredictionRequestBody"}
    assert components["PredictionRequestBody"]["oneOf"] == [
        {"$ref": "#/components/schemas/PredictionInput"},
        {"$ref": "#/components/schemas/PredictionBatch"},
    ]
    assert answer["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PredictionResponseBody"
    }
    assert components["PredictionResponseBody"]["oneOf"] == [
        {"$ref": "#/components/schemas/Prediction"},
        {"$ref": "#/components/schemas/PredictionBatchAnswer"},
    ]
    titles = {name: components[name]["title"] for name in ("PredictionInput", "PredictionBatch")}
    assert titles == {"PredictionInput": "PredictionInput", "PredictionBatch": "PredictionBatch"}
    batch = components["PredictionBatch"]
    assert batch["items"] == {"$ref": "#/components/schemas/PredictionInput"}
    assert (batch["minItems"], batch["maxItems"]) == (1, settings.VIEWSITE_BATCH_MAX)
    assert components["PredictionBatchAnswer"]["title"] == "PredictionBatchAnswer"


@pytest.mark.parametrize(
    "url_name", ["predictor:prediction-create", "predictor:prediction-preview"]
)
def test_the_guide_examples_are_what_a_get_answers(schema, db, url_name):
    path = reverse(url_name)
    [example] = examples_of(schema, "200", path=path, method="get").values()

    answer = APIClient(HTTP_ACCEPT_LANGUAGE="en").get(path)

    assert answer.status_code == 200
    guide = answer.json()
    # The schema is the same on any host: its example names the docs by path.
    assert {name: urlsplit(url).path for name, url in guide.pop("docs").items()} == example.pop(
        "docs"
    )
    assert guide == example
    answer_schema = schema["paths"][path]["get"]["responses"]["200"]["content"]
    jsonschema.validate(example, answer_schema["application/json"]["schema"])


def test_the_prediction_operation_shows_a_single_and_a_batch_request_and_answer(schema):
    operation = schema["paths"][PREDICTIONS]["post"]
    requests = operation["requestBody"]["content"]["application/json"]["examples"]

    assert requests["OneArticle"]["value"] == ONE_INPUT
    assert requests["ABatch"]["value"] == BATCH
    answers = examples_of(schema, "201")
    assert isinstance(answers["OneArticle"], dict)
    assert len(answers["ABatch"]) == len(BATCH)


def shape(value):
    """The structure of a JSON value with its types, not its values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


# The examples' one article lies inside the sample model's training range (no extrapolation
# sentence); this one lies inside the test model's (conftest.linear_rows), so its answer has the
# same shape. The batch's second item lies outside both.
INSIDE_THE_TEST_MODEL = {"likes": 1000, "shares": 300}


def test_the_answer_examples_have_the_shape_of_real_answers(schema, active_model):
    api = APIClient()
    answers = examples_of(schema, "201")

    single = api.post(PREDICTIONS, INSIDE_THE_TEST_MODEL, format="json")
    batch = api.post(PREDICTIONS, [INSIDE_THE_TEST_MODEL, *BATCH[1:]], format="json")

    assert (single.status_code, batch.status_code) == (201, 201)
    assert shape(single.json()) == shape(answers["OneArticle"])
    assert shape(batch.json()) == shape(answers["ABatch"])


def test_the_preview_examples_are_what_the_preview_operation_answers(schema, active_model):
    preview = reverse("predictor:prediction-preview")
    api = APIClient()

    answer = api.post(preview, INSIDE_THE_TEST_MODEL, format="json")
    refusals = {
        "InvalidInput": api.post(preview, INVALID_INPUT, format="json"),
        "ListRefused": api.post(preview, BATCH, format="json"),
    }

    assert answer.status_code == 200
    assert shape(answer.json()) == shape(examples_of(schema, "200", path=preview)["OneArticle"])
    for name, response in refusals.items():
        assert response.status_code == 400
        assert response.json() == examples_of(schema, "400", path=preview)[name]


# Each case the prediction operation can be brought to here: (status, example) and the request.
def _post(body, **extra):
    return lambda api: api.post(PREDICTIONS, body, format="json", **extra)


def _post_raw(content: str, content_type: str):
    return lambda api: api.post(PREDICTIONS, content, content_type=content_type)


REFUSALS = {
    ("400", "InvalidInput"): _post(INVALID_INPUT),
    ("400", "BatchItemInvalid"): _post(BATCH_WITH_INVALID_ITEM),
    ("400", "MalformedJson"): _post_raw(MALFORMED_JSON, "application/json"),
    ("401", "InvalidToken"): _post(ONE_INPUT, HTTP_AUTHORIZATION="Token not-a-real-key"),
    ("406", "NotAcceptable"): _post(ONE_INPUT, HTTP_ACCEPT="text/csv"),
    ("413", "BodyTooLarge"): _post_raw(
        " " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1), "application/json"
    ),
    ("415", "UnsupportedMediaType"): _post_raw("likes=500", "text/plain"),
}


@pytest.mark.parametrize(("status", "name"), list(REFUSALS))
def test_each_refusal_example_is_what_the_api_answers(schema, active_model, status, name):
    response = REFUSALS[status, name](APIClient())

    assert response.status_code == int(status)
    assert response.json() == examples_of(schema, status)[name]


@pytest.mark.parametrize(("status", "name"), list(REFUSALS))
def test_the_refusal_examples_speak_the_language_the_api_answers_in(
    client, active_model, status, name
):
    # The schema is served in its client's language (the docs pages ask for English), as the API
    # answers in its client's.
    chinese = fetch_schema(client, "zh-hans")

    response = REFUSALS[status, name](APIClient(HTTP_ACCEPT_LANGUAGE="zh-hans"))

    assert response.json() == examples_of(chinese, status)[name]


def test_the_csrf_example_is_what_a_session_without_its_token_gets(
    schema, active_model, plain_user
):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(plain_user)
    # A browser has the CSRF cookie from any form page; a script that reuses it, no header.
    api.get(reverse("predictor:predict"))
    assert api.cookies[settings.CSRF_COOKIE_NAME].value

    response = api.post(PREDICTIONS, ONE_INPUT, format="json")

    assert response.status_code == 403
    assert response.json() == examples_of(schema, "403")["CsrfFailed"]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_no_model_example_is_what_the_api_answers_before_any_retrain(client, db, language):
    examples = examples_of(fetch_schema(client, language), "503")

    response = APIClient(HTTP_ACCEPT_LANGUAGE=language).post(PREDICTIONS, ONE_INPUT, format="json")

    assert response.status_code == 503
    assert response.json() == examples["NoActiveModel"]


def test_the_database_example_is_how_a_database_error_is_answered(schema):
    refusal = as_api_exception(DatabaseError("connection refused"))

    assert (
        error_body(refusal.detail, refusal.get_codes())
        == examples_of(schema, "503")["DatabaseUnavailable"]
    )


def test_the_throttled_example_is_what_a_client_over_its_rate_gets(schema, active_model, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "1/hour", "user": "1/hour"},
    }
    api = APIClient()
    assert api.post(PREDICTIONS, ONE_INPUT, format="json").status_code == 201

    refused = api.post(PREDICTIONS, ONE_INPUT, format="json")

    assert refused.status_code == 429
    wait = int(refused["Retry-After"])  # for programs: the seconds, as they are
    example = examples_of(schema, "429")["Throttled"]
    # For people: grouped as every figure is ("Try again in 1,037 seconds.").
    assert refused.json() == {**example, "detail": example["detail"].replace("42", f"{wait:,}")}


def test_the_proxy_rate_limit_example_is_what_nginx_answers(schema):
    template = (ROOT / "deploy" / "nginx" / "viewsite.conf.template").read_text()
    [answer] = re.findall(r"return 429 '(.*)';", template)

    assert json.loads(answer) == examples_of(schema, "429")["RateLimitedByProxy"]


# The other operations' refusals.
def test_the_authentication_and_permission_examples_are_what_the_history_answers(
    schema, db, plain_user
):
    history = reverse("predictor:prediction-list")
    anonymous = APIClient().get(history)
    ordinary = APIClient()
    ordinary.force_authenticate(plain_user)

    assert anonymous.json() == examples_of(schema, "401", history, "get")["NotAuthenticated"]
    assert (
        ordinary.get(history).json()
        == examples_of(schema, "403", history, "get")["PermissionDenied"]
    )
    assert examples_of(schema, "403", history, "get") == {
        "PermissionDenied": error_body(
            "You do not have permission to perform this action.", "permission_denied"
        )
    }


def test_the_not_found_examples_are_what_the_api_answers(schema, db, staff_user, django_user_model):
    staff = APIClient()
    staff.force_authenticate(staff_user)
    missing = 987654
    record_path = "/api/predictions/{id}/"
    record = reverse("predictor:prediction-detail", args=[missing])
    outcome = reverse("predictor:prediction-outcome", args=[missing])
    recorder = django_user_model.objects.create_superuser("recorder", password="pw-for-tests")
    admin = APIClient()
    admin.force_authenticate(recorder)

    assert staff.get(record).json() == examples_of(schema, "404", record_path, "get")["NotFound"]
    example = examples_of(schema, "404", "/api/predictions/{id}/outcome/", "get")["NotFound"]
    assert admin.get(outcome).json() == {
        **example,
        "detail": example["detail"].replace("#42", f"#{missing}"),
    }


def test_the_conflict_examples_are_what_the_api_answers(
    schema, linear_csv, django_user_model, trained_models
):
    admin = APIClient()
    admin.force_authenticate(django_user_model.objects.create_superuser("root", password="pw"))
    first = trained_models.store(linear_csv)
    trained_models.store(linear_csv)
    remove_stored_file(first.artifact_name)
    APIClient().post(PREDICTIONS, INVALID_INPUT, format="json")
    refused = PredictionRequest.objects.get(accepted=False)

    activation = admin.post(reverse("predictor:model-activate", args=[first.label]))
    outcome = admin.post(
        reverse("predictor:prediction-outcome", args=[refused.pk]), {"views": 7}, format="json"
    )

    outcome_path = "/api/predictions/{id}/outcome/"
    example = examples_of(schema, "409", "/api/models/{label}/activate/")["ArtifactUnavailable"]
    expected = (
        example["detail"]
        .replace("model-v2-5f0c9e41a7b2.joblib", first.artifact_name)
        .replace("Model v2", f"Model {first.label}")
    )
    assert (activation.status_code, activation.json()) == (409, {**example, "detail": expected})
    example = examples_of(schema, "409", outcome_path)["PredictionNotAnswered"]
    assert (outcome.status_code, outcome.json()) == (
        409,
        {**example, "detail": example["detail"].replace("#42", f"#{refused.pk}")},
    )


def test_the_page_examples_are_what_the_lists_answer(schema, db, staff_user):
    history = reverse("predictor:prediction-list")
    staff = APIClient()
    staff.force_authenticate(staff_user)

    cursor = staff.get(history, {"cursor": "not-a-cursor"})
    page = APIClient().get(reverse("predictor:model-list"), {"page": 9})

    assert (cursor.status_code, page.status_code) == (404, 404)
    assert cursor.json() == examples_of(schema, "404", history, "get")["InvalidCursor"]
    assert page.json() == examples_of(schema, "404", "/api/models/", "get")["InvalidPage"]
