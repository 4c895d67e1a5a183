"""Two languages: Simplified Chinese (the default) and English, for every string of ours.

The catalogue is extracted afresh from the code and templates, as `make messages` does, and every
entry must have a translation; the compiled catalogue must match it; the pages read in Chinese
carry no English sentence; the API answers each language with the same error.
"""

import re
import shutil
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from predictor.models import PredictionRequest

LOCALE = Path(settings.BASE_DIR) / "locale"
CATALOGUE = LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po"
# What `make messages` leaves out: the tests' own strings, and files that are not ours.
IGNORED = [".venv/*", "var/*", "bench/*", "predictor/tests/*", "staticfiles/*"]
# Where our strings are (everything that IGNORED leaves).
SOURCES = ["predictor", "templates", "static", "viewsite"]


def test_every_string_of_ours_has_a_chinese_translation(tmp_path, settings, monkeypatch):
    # Extract in a copy of the sources, so the committed catalogue is compared, never rewritten:
    # makemessages writes to the `locale` folder beside the files it reads.
    project = tmp_path / "project"
    for name in SOURCES:
        shutil.copytree(
            Path(settings.BASE_DIR) / name,
            project / name,
            ignore=shutil.ignore_patterns("__pycache__", "tests"),
        )
    copy = project / "locale"
    shutil.copytree(LOCALE, copy)
    settings.LOCALE_PATHS = [copy]
    monkeypatch.chdir(project)
    call_command(
        "makemessages",
        locale=["zh_Hans"],
        ignore_patterns=IGNORED,
        no_location=True,
        no_obsolete=True,
        verbosity=0,
    )

    extracted = polib.pofile(str(copy / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    assert len(extracted) > 150
    untranslated = [entry.msgid for entry in extracted.untranslated_entries()]
    fuzzy = [entry.msgid for entry in extracted.fuzzy_entries()]
    assert untranslated == [], "no Chinese for:\n" + "\n".join(untranslated)
    assert fuzzy == [], "guessed by msgmerge, not translated:\n" + "\n".join(fuzzy)
    committed = {entry.msgid for entry in polib.pofile(str(CATALOGUE))}
    assert {entry.msgid for entry in extracted} == committed, "run `make messages`"


def test_the_compiled_catalogue_is_the_committed_one():
    source = polib.pofile(str(CATALOGUE))
    compiled = polib.mofile(str(CATALOGUE.with_suffix(".mo")))
    translations = {entry.msgid: entry.msgstr for entry in compiled if entry.msgid}
    assert translations == {entry.msgid: entry.msgstr for entry in source.translated_entries()}


# English words a Chinese page may show: names of things, not sentences (and the name of a field
# a client sent, quoted back in the refusal).
NAMES = {"viewsite", "English", "API", "likes", "shares", "views"}


def english_words(html: str) -> list[str]:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return [word for word in re.findall(r"[A-Za-z]{3,}", text) if word not in NAMES]


@pytest.mark.parametrize(
    "page",
    ["form", "answer", "refused", "not found", "csrf"],
)
def test_a_page_read_in_chinese_has_no_english_left(client, active_model, page):
    chinese = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
    form = reverse("predictor:predict")
    if page == "form":
        response = client.get(form, **chinese)
    elif page == "answer":
        response = client.post(form, {"likes": "500", "shares": "300"}, **chinese)
    elif page == "refused":
        response = client.post(form, {"likes": "-1", "shares": "x", "views": "3"}, **chinese)
    elif page == "not found":
        response = client.get("/no-such-page", **chinese)
    else:
        client.handler.enforce_csrf_checks = True
        response = client.post(form, {"likes": "1", "shares": "1"}, **chinese)
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    assert english_words(html) == []


def test_the_default_language_is_chinese_and_english_is_asked_for(client, db, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    assert '<html lang="zh-hans">' in client.get("/").content.decode()
    english = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="en">' in english


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"likes": -1, "shares": 1}, "likes"),
        ({"likes": 1, "shares": 1, "views": 3}, "views"),
    ],
)
def test_the_api_gives_the_same_error_in_each_language(client, active_model, body, field):
    url = reverse("predictor:prediction-create")
    answers = {
        language: client.post(
            url, body, content_type="application/json", HTTP_ACCEPT_LANGUAGE=language
        )
        for language in ("en", "zh-hans")
    }

    english, chinese = answers["en"].json(), answers["zh-hans"].json()
    assert answers["en"].status_code == answers["zh-hans"].status_code == 400
    assert english["code"] == chinese["code"] == "invalid"
    assert list(english["errors"]) == list(chinese["errors"]) == [field]
    assert english["detail"] == "The input is not valid."
    assert chinese["detail"] == "输入无效。"
    assert re.search(r"[\u4e00-\u9fff]", chinese["errors"][field][0])
    assert not re.search(r"[\u4e00-\u9fff]", english["errors"][field][0].split("Only")[0])
    # Both refusals are audited alike, as the code behind the message each client read.
    refused = PredictionRequest.objects.filter(accepted=False).order_by("pk")
    first, second = (row.errors for row in refused)
    assert first == second
    assert [stored["code"] for stored in first[field]] == [
        "min_value" if field == "likes" else "unknown_field"
    ]
