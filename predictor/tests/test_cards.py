"""The model card: what a person reads about a version, its plots, and the links that lead to it."""

import hashlib
import re
import statistics
import warnings
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.urls import resolve, reverse
from django.utils import timezone, translation

from predictor import services
from predictor.models import (
    Activation,
    Channel,
    ModelFile,
    ModelVersion,
    PredictionRequest,
    ServedCheckpoint,
    ServedTally,
)
from predictor.services import plots, signing

from .conftest import (
    exact_views,
    linear_rows,
    remove_stored_file,
    replace_stored_file,
    write_csv,
)

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
PLOT_NAMES = {"predicted-vs-actual", "residuals-likes", "residuals-shares"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
# Elements a browser lays out apart from their neighbours: their text does not run together.
SEPARATE = {"br", "dd", "div", "dt", "figcaption", "h1", "h2", "li", "p", "td", "th", "tr"}


def noisy_views(likes: int, shares: int) -> int:
    """The relation of `exact_views` give or take up to 6,000 views of deterministic noise: a fit
    comes close to 80, 60 and 1000 without reaching them, and its interval has a width."""
    return exact_views(likes, shares) + (likes * 7919 + shares * 104729) % 12001 - 6000


def train(tmp_path, rows, *, algorithm="linear", name="noisy.csv") -> ModelVersion:
    return services.retrain(data_path=write_csv(tmp_path / name, rows), algorithm=algorithm).version


@pytest.fixture
def noisy_model(db, tmp_path, trained_models):
    return trained_models.store(
        write_csv(tmp_path / "noisy.csv", linear_rows(60, relation=noisy_views))
    )


def card_url(version: ModelVersion) -> str:
    return reverse("predictor:model-card", kwargs={"number": version.number})


def plot_url(version: ModelVersion, name: str) -> str:
    return reverse("predictor:model-card-plot", kwargs={"number": version.number, "plot": name})


class Page(HTMLParser):
    """A page as a reader and a browser see it: each element's attributes, the text of each
    element with an id, and the text of the whole page (whitespace runs read as one space)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.html = html
        self.elements: list[tuple[str, dict]] = []
        self._texts: dict[str, list[str]] = {"": []}
        self._open: list[tuple[str, str]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag in SEPARATE:
            self.handle_data(" ")
        if tag in VOID:
            return
        self._open.append((tag, attributes.get("id") or ""))
        if attributes.get("id"):
            self._texts[attributes["id"]] = []

    def handle_endtag(self, tag):
        if tag in SEPARATE:
            self.handle_data(" ")
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data):
        self._texts[""].append(data)
        for _, element_id in self._open:
            if element_id:
                self._texts[element_id].append(data)

    def text(self, element_id: str = "") -> str:
        return " ".join("".join(self._texts[element_id]).split())

    def has(self, element_id: str) -> bool:
        return element_id in self._texts

    def all(self, tag: str) -> list[dict]:
        return [attributes for name, attributes in self.elements if name == tag]


def get_card(client, version: ModelVersion, language: str = "en") -> Page:
    response = client.get(card_url(version), HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return Page(response.content.decode())


def table_rows(page: Page, element_id: str) -> list[list[str]]:
    """The cells of a table's body rows, as text."""
    match = re.search(rf'<table[^>]*\bid="{element_id}"[^>]*>(.*?)</table>', page.html, re.S)
    assert match, f"no table #{element_id}"
    body = match.group(1).split("</thead>")[-1]
    return [
        [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells]
        for cells in (
            re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
        )
    ]


def figures(page: Page, element_id: str) -> dict[str, str]:
    """A table of figures (a label and its value per row), as {label: value}."""
    return dict(table_rows(page, element_id))


def history(page: Page) -> list[str]:
    """The text of each entry of the activation history, newest first."""
    match = re.search(r'<ol[^>]*\bid="activations"[^>]*>(.*?)</ol>', page.html, re.S)
    assert match, "no activation history"
    return [
        " ".join(re.sub(r"<[^>]+>", " ", item).split())
        for item in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)
    ]


def whole(value: float) -> str:
    """A number as the card's `floatformat:"0g"` shows it: rounded half up, thousands grouped."""
    return f"{Decimal(repr(value)).quantize(Decimal(1), ROUND_HALF_UP):,}"


# --- What the card says ---------------------------------------------------------------------------


def test_a_fresh_version_card_shows_its_algorithm_and_its_equation_in_words(client, active_model):
    page = get_card(client, active_model)

    assert "Model card v1" in page.text()
    assert "Method: linear regression (linear)" in page.text()
    assert "sklearn.linear_model.LinearRegression, scikit-learn 1." in page.text()
    # The fit is exact, so the equation reads in whole numbers, each sign written once.
    assert page.text("equation") == "views ≈ 80 × likes + 60 × shares + 1,000"


@pytest.mark.parametrize(
    ("relation", "equation"),
    [
        (
            lambda likes, shares: 80 * likes - 20 * shares + 50_000,
            "80 × likes − 20 × shares + 50,000",
        ),
        (
            lambda likes, shares: -10 * likes + 60 * shares + 50_000,
            "−10 × likes + 60 × shares + 50,000",
        ),
        (
            lambda likes, shares: 80 * likes + 60 * shares - 3_000,
            "80 × likes + 60 × shares − 3,000",
        ),
    ],
    ids=["negative-term", "negative-first-term", "negative-intercept"],
)
def test_a_negative_coefficient_is_written_with_a_minus_sign_once(
    client, db, tmp_path, relation, equation
):
    version = train(tmp_path, linear_rows(relation=relation))
    assert get_card(client, version).text("equation") == f"views ≈ {equation}"


def test_a_noisy_fit_is_written_to_two_decimals_and_a_log_fit_to_four(client, db, tmp_path):
    rows = linear_rows(60, relation=noisy_views)
    linear = train(tmp_path, rows)
    log_linear = train(tmp_path, rows, algorithm="log-linear", name="again.csv")

    a, b = (linear.parameters["coefficients"][name] for name in ("likes", "shares"))
    c = linear.parameters["intercept"]
    # Close to the relation, not on it.
    assert abs(a - 80) < 5
    assert abs(b - 60) < 5
    assert a != 80
    assert get_card(client, linear).text("equation") == (
        f"views ≈ {a:.2f} × likes + {b:.2f} × shares {'+' if c >= 0 else '−'} {abs(c):,.2f}"
    )
    a, b = (log_linear.parameters["coefficients"][name] for name in ("likes", "shares"))
    c = log_linear.parameters["intercept"]
    assert get_card(client, log_linear).text("equation") == (
        f"log(1 + views) ≈ {a:.4f} × log(1 + likes) + {b:.4f} × log(1 + shares) "
        f"{'+' if c >= 0 else '−'} {abs(c):,.4f}"
    )


def test_the_card_shows_the_cross_validated_metrics_and_the_interval_coverage(client, noisy_model):
    version = noisy_model
    page = get_card(client, version)

    assert 0.5 < version.cv_r2 < 1  # the noise leaves something unexplained
    assert figures(page, "cv-metrics") == {
        "Share of the differences in views it explains (R²)": f"{version.cv_r2:.3f}",
        "Typical miss, in views (mean absolute error)": whole(version.cv_mae),
        "Miss with large misses weighted more (root mean square error)": whole(version.cv_rmse),
        "Real views inside the stated range": (
            f"{version.cv_interval_coverage * 100:.1f}% (aimed at 90%)"
        ),
    }
    assert (
        "split into 5 groups and each group was predicted by a model trained on the other 4"
    ) in page.text()
    assert version.interval_relative_half_width > 0
    assert page.text("interval-sentence") == (
        "Every prediction comes with a range: the prediction give or take "
        f"{version.interval_relative_half_width:.1%} of it, and never less than give or take "
        f"{whole(version.interval_relative_half_width * version.interval_scale_floor)} views. "
        "The range is meant to hold the real view count for 90% of articles; in testing it "
        f"held it for {version.cv_interval_coverage * 100:.1f}%."
    )


def test_the_card_summarises_the_training_data(client, db, tmp_path, trained_models):
    rows = linear_rows(40)
    for i in (3, 7, 11):  # a blank 转发数 is read as the article's 点赞数
        likes = rows[i][0]
        rows[i] = (likes, "", exact_views(likes, likes))
    path = write_csv(tmp_path / "with-blanks.csv", rows)
    version = trained_models.store(path)

    filled = [(likes, likes if shares == "" else shares, views) for likes, shares, views in rows]
    columns = dict(zip(("likes", "shares", "views"), zip(*filled, strict=True), strict=True))
    expected = [
        ["file", f"with-blanks.csv {hashlib.sha256(path.read_bytes()).hexdigest()}"],
        ["articles", "40"],
        ["articles without shares, counted with their likes", "3"],
    ] + [
        [
            name,
            f"{whole(min(values))} to {whole(max(values))} "
            f"(middle value {whole(statistics.median(values))})",
        ]
        for name, values in columns.items()
    ]
    assert table_rows(get_card(client, version), "training-data") == expected
    assert version.data_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_boosted_trees_card_shows_its_parameters_and_no_equation(client, db, tmp_path):
    version = train(tmp_path, linear_rows(120, relation=noisy_views), algorithm="hist-gb")
    page = get_card(client, version)

    assert "coefficients" not in version.parameters
    assert not page.has("equation")
    assert "≈" not in page.text()
    assert "Method: boosted decision trees (hist-gb)" in page.text()
    assert "sklearn.ensemble.HistGradientBoostingRegressor" in page.text()
    text = page.text()
    for name, value in {
        "learning_rate": "0.05",
        "max_iter": "200",
        "max_leaf_nodes": "15",
        "min_samples_leaf": "20",
        "l2_regularization": "1.0",
    }.items():
        assert f"{name} {value}" in text
    assert f"boosting iterations {version.parameters['iterations']}" in text
    assert {attributes["src"] for attributes in page.all("img")} == {
        plot_url(version, f"{name}-en") for name in PLOT_NAMES
    }


def test_a_version_trained_before_cards_existed_still_has_one(client, db):
    """No interval, no summary of its data, no plots: the card says what it knows."""
    version = ModelVersion.objects.create(
        number=1,
        algorithm="sklearn.linear_model.LinearRegression",
        features=["likes", "shares"],
        parameters={"coefficients": {"likes": 80.0, "shares": 60.0}, "intercept": 1000.0},
        cv_r2=0.9,
        cv_mae=1234.5,
        cv_rmse=2345.6,
        cv_folds=5,
        training_rows=40,
        data_file_name="old.csv",
        data_sha256="0" * 64,
        artifact_name="model-v1.joblib",
        artifact_sha256="1" * 64,
        sklearn_version="1.4.2",
    )
    page = get_card(client, version)

    assert page.text("equation") == "views ≈ 80 × likes + 60 × shares + 1,000"
    assert list(figures(page, "cv-metrics").values()) == ["0.900", "1,235", "2,346", "—"]
    assert "trained before predictions came with a range" in page.text()
    assert page.all("img") == []
    assert not page.has("served-inputs")
    assert not page.has("extrapolation-warning")
    assert "Never put to work." in page.text()


# --- Plots ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_each_plot_is_shown_in_the_pages_language_as_the_png_retrain_stored(
    client, noisy_model, language
):
    version = noisy_model
    images = get_card(client, version, language).all("img")

    assert set(version.plots) == {
        f"{name}-{drawn}" for name in PLOT_NAMES for drawn in ("en", "zh-hans")
    }
    # In the order of plots.ORDER, each in the page's language.
    assert [image["src"] for image in images] == [
        plot_url(version, f"{name}-{language}") for name in plots.ORDER
    ]
    with translation.override(language):
        described = [plots.words(name).description for name in plots.ORDER]
    assert [image["alt"] for image in images] == described
    for image in images:
        stored = version.plots[resolve(image["src"]).kwargs["plot"]]
        assert stored["language"] == language
        response = client.get(image["src"])
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert "immutable" in response["Cache-Control"]
        served = response.content
        assert served[:8] == b"\x89PNG\r\n\x1a\n"
        assert served == bytes(ModelFile.objects.get(name=stored["name"]).content)
        assert hashlib.sha256(served).hexdigest() == stored["sha256"]
        # IHDR: the width and height the <img> announces, so the page does not jump as it loads;
        # every plot the same size, so that they lay out as a set.
        width, height = int.from_bytes(served[16:20]), int.from_bytes(served[20:24])
        assert (str(width), str(height)) == (image["width"], image["height"]) == ("500", "400")


def test_the_chinese_plots_say_in_chinese_what_they_show_with_every_glyph_in_the_font(db):
    """Drawn in VIEWSITE_PLOT_FONT: matplotlib warns of each glyph its font lacks (a box)."""
    rows = np.array(linear_rows(30, relation=noisy_views), dtype=float)
    inputs, target = rows[:, :2], rows[:, 2]
    predicted = target * 0.9 + 1_000
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        drawn = plots.draw(
            inputs=inputs, target=target, predicted=predicted, half_widths=target * 0.05
        )
    assert [str(warning.message) for warning in warned if "missing" in str(warning.message)] == []
    assert [plot.name for plot in drawn] == [
        f"{name}-{language}" for language in ("zh-hans", "en") for name in plots.ORDER
    ]
    by_name = {plot.name: plot for plot in drawn}
    for name in plots.ORDER:
        # The same points, other words: the images differ.
        assert by_name[f"{name}-zh-hans"].image != by_name[f"{name}-en"].image
    with translation.override("zh-hans"):
        words = [plots.words(name) for name in plots.ORDER]
    assert [w.title for w in words] == [
        "预测浏览量与实际浏览量对比",
        "不同点赞数下的预测偏差",
        "不同转发数下的预测偏差",
    ]
    for w in words:
        assert not re.search(r"[A-Za-z]", w.description), w.description
    assert words[0].description == (
        "预测浏览量与实际浏览量对比。散点图：横轴是实际浏览量，纵轴是预测浏览量。"
        "蓝点表示在范围内，红点表示在范围外；线表示预测完全准确。"
    )


def test_a_version_drawn_before_plots_had_languages_shows_the_plots_it_has(client, noisy_model):
    version = noisy_model
    # As versions stored before this change recorded them: one plot per name, no language.
    version.plots = {name: version.plots[f"{name}-en"] for name in plots.ORDER}
    signing.sign(version)
    version.save()

    images = get_card(client, version, "zh-hans").all("img")
    assert [image["src"] for image in images] == [plot_url(version, name) for name in plots.ORDER]
    with translation.override("zh-hans"):
        assert images[0]["alt"] == plots.words("predicted-vs-actual").description
    assert all(client.get(image["src"]).status_code == 200 for image in images)


def test_a_missing_plot_font_is_a_warning_of_manage_py_check(settings, tmp_path):
    settings.VIEWSITE_PLOT_FONT = tmp_path / "no-such-font.ttc"
    warned = [message for message in run_checks() if message.id == "viewsite.W003"]
    assert len(warned) == 1
    assert "no-such-font.ttc" in warned[0].msg
    settings.VIEWSITE_PLOT_FONT = CJK_FONT
    assert [message for message in run_checks() if message.id == "viewsite.W003"] == []


def test_a_plot_altered_or_removed_in_the_database_is_not_served(client, noisy_model):
    version = noisy_model
    altered = version.plots["residuals-likes-en"]["name"]
    replace_stored_file(altered, bytes(ModelFile.objects.get(name=altered).content) + b"\0")
    remove_stored_file(version.plots["residuals-shares-en"]["name"])

    assert client.get(plot_url(version, "residuals-likes-en")).status_code == 404
    assert client.get(plot_url(version, "residuals-shares-en")).status_code == 404
    assert client.get(plot_url(version, "predicted-vs-actual-en")).status_code == 200
    assert client.get(plot_url(version, "residuals-likes-zh-hans")).status_code == 200
    # The card itself still renders; only the altered pictures are withheld.
    assert client.get(card_url(version)).status_code == 200


def test_an_unknown_plot_or_version_is_404(client, active_model):
    missing_version = ModelVersion(number=active_model.number + 1)
    responses = {
        "unknown plot": client.get(plot_url(active_model, "coefficients")),
        "unknown version's card": client.get(card_url(missing_version)),
        "unknown version's plot": client.get(plot_url(missing_version, "predicted-vs-actual")),
    }
    assert {name: response.status_code for name, response in responses.items()} == dict.fromkeys(
        responses, 404
    )
    assert f"There is no model version {missing_version.label}." in (
        responses["unknown version's card"].content.decode()
    )


# --- Input drift ----------------------------------------------------------------------------------


def predict(likes: int, shares: int):
    return services.predict(
        inputs=[{"likes": likes, "shares": shares}],
        raw_inputs=[{}],
        info=services.RequestInfo(channel=Channel.API),
    )


def drift(client, version) -> tuple[str | None, str]:
    page = get_card(client, version)
    warning = page.text("extrapolation-warning") if page.has("extrapolation-warning") else None
    return warning, page.text("served-inputs")


def test_the_extrapolation_warning_appears_exactly_when_an_answered_input_was_out_of_range(
    client, active_model, linear_csv, tmp_path, trained_models
):
    # The training data: likes 100 to 1,543, shares 50 to 445.
    assert drift(client, active_model) == (None, "It has not answered any request yet.")
    predict(500, 300)
    predict(100, 445)  # on the edges of the range is inside it
    services.record_refusal(
        raw_inputs=[{"likes": 99_999}],
        errors=[{"likes": ["too large"]}],
        info=services.RequestInfo(channel=Channel.API),
    )
    assert drift(client, active_model) == (
        None,
        "So far it has answered 2 requests; 0 of them (0.0%) were outside these ranges.",
    )

    predict(1544, 300)
    warning, served = drift(client, active_model)
    assert warning == (
        "Some answers are guesses beyond its data: 33.3% of the requests this version answered "
        "(1 of 3) had more or fewer likes or shares than any article it learned from. Those "
        "answers are not backed by data."
    )
    assert (
        served == "So far it has answered 3 requests; 1 of them (33.3%) were outside these ranges."
    )

    predict(500, 49)
    assert drift(client, active_model)[0].startswith(
        "Some answers are guesses beyond its data: 50.0% of the requests"
    )

    # Only the requests a version answered count on its card.
    newer = trained_models.store(linear_csv)
    assert drift(client, newer)[0] is None
    predict(20_000, 0)
    assert drift(client, newer)[0].startswith(
        "Some answers are guesses beyond its data: 100.0% of the requests"
    )
    assert "(2 of 4)" in drift(client, active_model)[0]


def test_a_trail_written_before_is_counted_once_and_a_batch_counts_each_input(client, active_model):
    # A trail written before the audit recorded `extrapolated`, as migration 0018 finds it, and
    # the checkpoint it makes from what ServedCount had counted: the only record of its share.
    for likes in (20_000, 500):
        PredictionRequest.objects.create(
            channel=Channel.API,
            accepted=True,
            likes=likes,
            shares=300,
            model_version=active_model,
            latency_ms=1.0,
        )
    checkpoint = ServedCheckpoint.objects.create(
        through_id=PredictionRequest.objects.latest("pk").pk
    )
    ServedTally.objects.create(checkpoint=checkpoint, version=active_model, count=2, extrapolated=1)
    assert "(1 of 2)" in drift(client, active_model)[0]

    inputs = [{"likes": 500, "shares": 300}, {"likes": 5_000, "shares": 300}]
    inputs.append({"likes": 99, "shares": 0})
    services.predict(
        inputs=inputs,
        raw_inputs=inputs,
        info=services.RequestInfo(channel=Channel.FORM),
        batch=True,
    )
    assert drift(client, active_model)[1] == (
        "So far it has answered 5 requests; 3 of them (60.0%) were outside these ranges."
    )


# --- Activation history ---------------------------------------------------------------------------


def activate_in_admin(admin_client, version: ModelVersion, reason: str):
    changelist = reverse("admin:predictor_modelversion_changelist")
    action = {"action": "activate_version", "index": "0", "_selected_action": str(version.pk)}
    asking = admin_client.post(changelist, action)
    assert asking.status_code == 200
    assert 'name="reason"' in asking.content.decode()
    return admin_client.post(changelist, {**action, "confirm": "yes", "reason": reason})


def test_the_activation_history_lists_each_activation_with_its_door_user_and_reason(
    client, admin_client, admin_user, active_model, linear_csv, trained_models
):
    first = active_model
    second = trained_models.store(linear_csv)
    call_command("activate", first.label, "--reason", "v2 over-predicts", verbosity=0)
    assert activate_in_admin(admin_client, second, "fixed upstream").status_code == 302

    def entries(version, language="en"):
        # when, door, by, replaced, why; the time is checked for its shape only.
        page = get_card(client, version, language)
        assert f"Times are in {timezone.get_current_timezone_name()}." in page.text()
        found = []
        for entry in history(page):
            when = re.match(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d ", entry)
            assert when, entry
            found.append(entry[when.end() :])
        return found

    retrained = "Retrained on linear.csv (linear regression), switched on automatically"
    assert entries(first) == [
        "activate command · replaced v2 v2 over-predicts",
        f"retrain {retrained}",
    ]
    assert entries(second) == [
        f"admin · {admin_user.get_username()} · replaced v1 fixed upstream",
        f"retrain · replaced v1 {retrained}",
    ]
    [chinese] = history(get_card(client, first, "zh-hans"))[1:]
    assert chinese.endswith("重新训练 用 linear.csv 重新训练（线性回归），训练完自动启用")
    assert Activation.objects.count() == 4


def test_a_version_never_activated_says_so(client, active_model, linear_csv, trained_models):
    unused = trained_models.store(linear_csv, activate=False)
    page = get_card(client, unused)
    assert not page.has("activations")
    assert "Never put to work." in page.text()
    assert "not in use" in page.text()


# --- Safe to show under a strict policy -----------------------------------------------------------


def test_the_card_has_no_external_url_no_inline_script_and_no_style_attribute(
    client, admin_client, noisy_model, linear_csv
):
    predict(20_000, 20_000)  # so that the warning is on the page too
    response = client.get(card_url(noisy_model))
    html = response.content.decode()
    page = Page(html)

    assert page.has("extrapolation-warning")
    assert page.has("equation")
    assert page.all("img")
    assert not re.search(r"https?:|//[a-z0-9]", html, re.IGNORECASE)  # no other host, no CDN
    assert page.all("script") == []
    assert page.all("style") == []
    assert [tag for tag, attributes in page.elements if "style" in attributes] == []
    assert [
        tag for tag, attributes in page.elements if any(a.startswith("on") for a in attributes)
    ] == []
    for tag, attributes in page.elements:
        for name in ("src", "href", "action"):
            if name in attributes:
                assert attributes[name].startswith("/"), (tag, attributes)
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == policy["style-src"] == "'self'"
    assert set(policy["img-src"].split()) <= {"'self'", "data:"}


# --- Links to the card ----------------------------------------------------------------------------


def test_the_api_links_each_version_to_its_card(client, active_model, linear_csv, trained_models):
    second = trained_models.store(linear_csv)
    body = client.get(reverse("predictor:model-list")).json()
    versions = body["results"] if isinstance(body, dict) else body

    links = {item["version"]: item["model_card"] for item in versions}
    assert set(links) == {active_model.label, second.label}
    for label, url in links.items():
        match = resolve(urlsplit(url).path)
        assert match.view_name == "predictor:model-card"
        assert f"v{match.kwargs['number']}" == label
        assert f"Model card {label}" in get_card_at(client, url).text()


def get_card_at(client, url: str) -> Page:
    response = client.get(urlsplit(url).path)
    assert response.status_code == 200
    return Page(response.content.decode())


def test_the_admin_changelist_links_each_version_to_its_card(admin_client, active_model):
    html = admin_client.get(reverse("admin:predictor_modelversion_changelist")).content.decode()
    url = card_url(active_model)
    # Labelled as the model card, in the column beside the version's label (test_admin.py).
    assert f'<a class="model-card-link" href="{url}">Model card</a>' in html
    assert "Model card" in Page(html).text()  # the column's heading


def test_the_card_reads_in_chinese_by_default_and_in_english_when_asked(client, active_model):
    chinese = get_card(client, active_model, language="zh-hans")
    assert "模型卡片 v1" in chinese.text()
    assert chinese.text("equation") == "浏览量 ≈ 80 × 点赞数 + 60 × 转发数 + 1,000"
    assert ["文章数", "40"] in table_rows(chinese, "training-data")
    english = get_card(client, active_model)
    assert english.text("equation") == "views ≈ 80 × likes + 60 × shares + 1,000"


def test_the_card_says_why_an_answer_is_never_below_zero_in_either_language(client, active_model):
    english = client.get(card_url(active_model)).content.decode()
    chinese = client.get(card_url(active_model), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    paragraph = re.search(r'<p id="answer-bounds">(.*?)</p>', english, re.S).group(1)
    text = " ".join(re.sub(r"<[^>]+>", " ", paragraph).split())
    assert "the answer given is the model's figure or 0, whichever is larger" in text
    assert "it is an extrapolation and may be off" in text
    assert "取模型算出的值和 0 中较大的那个" in chinese


# --- In the reader's language ---------------------------------------------------------------------

# Words a Chinese page may hold: names (the site's, the language switch's own), the zone's name,
# version labels; identifiers (file names, checksums, library names) are inside <code>.
ALLOWED_ON_CHINESE_PAGES = {"viewsite", "API", "English", "R", "Asia", "Shanghai"}


def test_the_chinese_card_has_no_english_word_outside_code_plots_included(
    client, admin_client, noisy_model
):
    version = noisy_model
    predict(20_000, 300)  # the warning's sentence too
    services.activate(version=version, door=Activation.Door.COMMAND, reason="")
    response = client.get(card_url(version), HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = response.content.decode()
    page = Page(html)
    alts = " ".join(image["alt"] for image in page.all("img"))
    words_read = re.sub(r"<code[^>]*>.*?</code>", " ", html, flags=re.S)
    words_read = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", words_read, flags=re.S)
    text = Page(words_read).text() + " " + alts

    english = set(re.findall(r"[A-Za-z]+", text)) - ALLOWED_ON_CHINESE_PAGES
    assert english <= {f"v{version.number}"} | {"v"}, sorted(english)
    assert page.has("extrapolation-warning")
    assert len(page.all("img")) == 3
    # Whole numbers grouped as in English: the card showed 35886 before.
    assert f"{round(version.cv_mae):,}" in dict(table_rows(page, "cv-metrics")).values()
