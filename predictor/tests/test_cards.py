"""The model card: what a person reads about a version, its plots, and the links that lead to it."""

import hashlib
import re
import statistics
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.urls import resolve, reverse

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

from .conftest import (
    exact_views,
    linear_rows,
    remove_stored_file,
    replace_stored_file,
    write_csv,
)

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


def whole(value: float) -> str:
    """A number as the card's `floatformat:"0g"` shows it: rounded half up, thousands grouped."""
    return f"{Decimal(repr(value)).quantize(Decimal(1), ROUND_HALF_UP):,}"


# --- What the card says ---------------------------------------------------------------------------


def test_a_fresh_version_card_shows_its_algorithm_and_its_equation_in_words(client, active_model):
    page = get_card(client, active_model)

    assert "Model card v1" in page.text()
    assert "linear: sklearn.linear_model.LinearRegression" in page.text()
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
    [row] = table_rows(page, "cv-metrics")
    assert row == [
        "5-fold cross-validation",
        f"{version.cv_r2:.4f}",
        whole(version.cv_mae),
        whole(version.cv_rmse),
        f"{version.cv_interval_coverage * 100:.1f}% (stated 90%)",
    ]
    assert version.interval_relative_half_width > 0
    assert (
        f"Each answer comes with an interval of ± {version.interval_relative_half_width:.1%} of "
        f"the prediction (of {whole(version.interval_scale_floor)} views at the least), stated "
        "to hold 9 times in 10; on held-out folds it held "
        f"{version.cv_interval_coverage * 100:.1f}% of the time."
    ) in page.text()


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
        ["rows", "40"],
        ["blank shares filled with likes", "3"],
    ] + [
        [
            name,
            f"{whole(min(values))} to {whole(max(values))} "
            f"(median {whole(statistics.median(values))})",
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
    assert "hist-gb: sklearn.ensemble.HistGradientBoostingRegressor" in page.text()
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
        plot_url(version, name) for name in PLOT_NAMES
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
    assert table_rows(page, "cv-metrics") == [
        ["5-fold cross-validation", "0.9000", "1,235", "2,346", "—"]
    ]
    assert "trained before intervals existed" in page.text()
    assert page.all("img") == []
    assert not page.has("served-inputs")
    assert not page.has("extrapolation-warning")
    assert "Never activated." in page.text()


# --- Plots ----------------------------------------------------------------------------------------


def test_each_stored_plot_is_shown_and_served_as_the_png_retrain_stored(client, noisy_model):
    version = noisy_model
    images = get_card(client, version).all("img")

    assert set(version.plots) == PLOT_NAMES
    assert sorted(image["src"] for image in images) == sorted(
        plot_url(version, name) for name in version.plots
    )
    for name, plot in version.plots.items():
        [image] = [image for image in images if image["src"] == plot_url(version, name)]
        assert image["alt"] == plot["title"]
        response = client.get(image["src"])
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert "immutable" in response["Cache-Control"]
        served = response.content
        assert served[:8] == b"\x89PNG\r\n\x1a\n"
        assert served == bytes(ModelFile.objects.get(name=plot["name"]).content)
        assert hashlib.sha256(served).hexdigest() == plot["sha256"]
        # IHDR: the width and height the <img> announces, so the page does not jump as it loads.
        width, height = int.from_bytes(served[16:20]), int.from_bytes(served[20:24])
        assert (str(width), str(height)) == (image["width"], image["height"])


def test_a_plot_altered_or_removed_in_the_database_is_not_served(client, noisy_model):
    version = noisy_model
    altered = version.plots["residuals-likes"]["name"]
    replace_stored_file(altered, bytes(ModelFile.objects.get(name=altered).content) + b"\0")
    remove_stored_file(version.plots["residuals-shares"]["name"])

    assert client.get(plot_url(version, "residuals-likes")).status_code == 404
    assert client.get(plot_url(version, "residuals-shares")).status_code == 404
    assert client.get(plot_url(version, "predicted-vs-actual")).status_code == 200
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
    assert drift(client, active_model) == (
        None,
        "Inputs served so far: 0 answered requests, 0 outside the training range.",
    )
    predict(500, 300)
    predict(100, 445)  # on the edges of the range is inside it
    services.record_refusal(
        raw_inputs=[{"likes": 99_999}],
        errors=[{"likes": ["too large"]}],
        info=services.RequestInfo(channel=Channel.API),
    )
    assert drift(client, active_model) == (
        None,
        "Inputs served so far: 2 answered requests, 0 outside the training range (0.0%).",
    )

    predict(1544, 300)
    warning, served = drift(client, active_model)
    assert warning == (
        "Extrapolating: 33.3% of the requests answered by this version (1 of 3) had an input "
        "outside the training data's range. There the model's answers rest on no data."
    )
    assert (
        served == "Inputs served so far: 3 answered requests, 1 outside the training range (33.3%)."
    )

    predict(500, 49)
    assert drift(client, active_model)[0].startswith("Extrapolating: 50.0% of the requests")

    # Only the requests a version answered count on its card.
    newer = trained_models.store(linear_csv)
    assert drift(client, newer)[0] is None
    predict(20_000, 0)
    assert drift(client, newer)[0].startswith("Extrapolating: 100.0% of the requests")
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
        "Inputs served so far: 5 answered requests, 3 outside the training range (60.0%)."
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

    def history(version):
        # when, door, by, replaced, why; the time is checked for its shape only.
        rows = table_rows(get_card(client, version), "activations")
        for row in rows:
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row[0])
        return [row[1:] for row in rows]

    assert history(first) == [
        ["activate command", "—", "v2", "v2 over-predicts"],
        ["retrain", "—", "—", "retrained (linear) on linear.csv"],
    ]
    assert history(second) == [
        ["admin", admin_user.get_username(), "v1", "fixed upstream"],
        ["retrain", "—", "v1", "retrained (linear) on linear.csv"],
    ]
    assert Activation.objects.count() == 4


def test_a_version_never_activated_says_so(client, active_model, linear_csv, trained_models):
    unused = trained_models.store(linear_csv, activate=False)
    page = get_card(client, unused)
    assert not page.has("activations")
    assert "Never activated." in page.text()
    assert "not active" in page.text()


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
    assert f'<a href="{url}">{active_model.label}</a>' in html
    assert "Model card" in Page(html).text()  # the column's heading


def test_the_card_reads_in_chinese_by_default_and_in_english_when_asked(client, active_model):
    chinese = get_card(client, active_model, language="zh-hans")
    assert "模型卡片 v1" in chinese.text()
    assert chinese.text("equation") == "浏览量 ≈ 80 × 点赞数 + 60 × 转发数 + 1,000"
    assert ["行数", "40"] in table_rows(chinese, "training-data")
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
