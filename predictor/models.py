"""Trained model versions and their activation history, the append-only audit trail of
predictions, and the real outcomes learned for them afterwards."""

from collections.abc import Sequence
from functools import cached_property

import numpy as np
from django.conf import settings
from django.db import models
from django.db.models import ExpressionWrapper
from django.db.models.functions import Abs, Cast, Coalesce, Greatest, Power, Sqrt
from django.db.models.lookups import GreaterThan
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import display, features

# What each `retrain --algorithm` is called for people, in their language. Here, not in
# services/algorithms.py, which imports scikit-learn: a worker that shows a card never needs it.
ALGORITHM_TITLES = {
    "linear": _("linear regression"),
    "ridge": _("ridge regression"),
    "log-linear": _("linear regression on logarithms"),
    "hist-gb": _("boosted decision trees"),
}


def algorithm_title(name: str) -> str:
    """An algorithm's name for people ("linear regression"); the name itself if unknown."""
    return str(ALGORITHM_TITLES.get(name, name))


def served_figure(figure: str, checkpoint: "ServedCheckpoint | None"):
    """A version's served `figure` ("count" or "extrapolated"), for annotating versions: its
    tally at `checkpoint` plus its rows since, summed by the database.

    The checkpoint is read first, in a statement of its own, so that its id reaches PostgreSQL
    as a value: with a subquery in its place the planner can only guess how many rows lie past
    it (a third of the trail, by its default), and plans for that many rather than for the few
    since the last seal. Counting a version's rows from the start takes seconds at ten million
    rows; past a checkpoint there are only the rows since (bench/README.md, "Served counts at a
    checkpoint").
    """
    tally = models.Value(0)
    if checkpoint is not None:
        tally = models.Subquery(
            ServedTally.objects.filter(version=models.OuterRef("pk"), checkpoint=checkpoint).values(
                figure
            )
        )
    outside = models.Q(extrapolated=True) if figure == "extrapolated" else None
    since = (
        PredictionRequest.objects.served()
        # The version's id plus 0, SQL's way to keep a condition (and the GROUP BY) off an
        # index: past a checkpoint the few rows since are read by the primary key, where
        # SQLite's planner (which has no statistics) chose to read all of a version's rows by
        # the version index.
        .annotate(answered_by=models.F("model_version") + 0)
        .filter(
            answered_by=models.OuterRef("pk"),
            pk__gt=checkpoint.through_id if checkpoint is not None else 0,
        )
        .order_by()
        .values("answered_by")
        .annotate(total=models.Count("pk", filter=outside))
        .values("total")
    )
    return Coalesce(tally, 0) + Coalesce(models.Subquery(since), 0)


def latest_served_checkpoint() -> "ServedCheckpoint | None":
    return ServedCheckpoint.objects.order_by("-through_id").first()


# The sums a version's live error is made of, as ServedTally keeps them and `live_error_sums`
# adds them up: each figure is a ratio of two (MAE = absolute_error / outcomes, ...).
LIVE_ERROR_SUMS = (
    "outcomes",
    "absolute_error",
    "squared_error",
    "percentage_error",
    "percentage_outcomes",
    "inside_interval",
    "with_interval",
)


def live_error_sums(*, after: int, through: int | None = None, version=None):
    """Each version's live error sums (LIVE_ERROR_SUMS) over the outcomes with ids after `after`
    through `through` (all of them when None), as a change to the sums at `after`, by the
    database.

    For each prediction that got an outcome in the range, the newest of them is in force and
    counts; the one that was in force at `after`, if any, is superseded and taken off (a
    correction replaces, never adds). Only the predictions with an outcome in the range are
    read, by the (prediction, id) index: the checkpoint's tallies hold the rest
    (services/served.py sums a range at each seal; with_live_error the few since the latest).
    `version` (a value or an OuterRef) keeps one version's row. Previews count in none:
    record_outcomes refuses them, and none may count if one got in.
    """
    in_range = models.Q(pk__gt=after)
    if through is not None:
        in_range &= models.Q(pk__lte=through)
    # The outcome in force at the range's end (for one in the range) or at `after` (for one
    # before it): none of the same prediction is newer up to there.
    newer = Outcome.objects.filter(
        prediction=models.OuterRef("prediction"), pk__gt=models.OuterRef("pk")
    ).filter(models.Q(pk__lte=after) | GreaterThan(models.OuterRef("pk"), after))
    if through is not None:
        newer = newer.filter(pk__lte=through)
    touched = Outcome.objects.filter(in_range).values("prediction")
    rows = (
        Outcome.objects.filter(prediction__in=touched)
        .filter(~models.Exists(newer))
        .exclude(prediction__channel=Channel.PREVIEW)
        # A refused request has no version to count against (record_outcomes refuses an
        # outcome for one; none may count if one got in).
        .filter(prediction__model_version__isnull=False)
    )
    if through is not None:
        rows = rows.filter(pk__lte=through)
    if version is not None:
        # Plus 0 keeps the version's condition off its index, as in served_figure: the few
        # outcomes in the range are read by id, never all of a version's predictions.
        rows = rows.annotate(answered_by=models.F("prediction__model_version") + 0).filter(
            answered_by=version
        )
    sign = models.Case(
        models.When(in_range, then=models.Value(1)),
        default=models.Value(-1),
        output_field=models.IntegerField(),
    )
    actual = Cast("views", models.FloatField())
    # Against the answer served, not the model's figure a row keeps: features.served_views,
    # the model's figure floored at the views' minimum, in SQL.
    served = Greatest(models.F("prediction__views"), models.Value(features.VIEWS_FLOOR))
    error = actual - served
    with_interval = models.Q(prediction__views_lower__isnull=False)
    inside = (
        with_interval
        & models.Q(views__gte=models.F("prediction__views_lower"))
        & models.Q(views__lte=models.F("prediction__views_upper"))
    )

    def signed(value, when=None):
        # Kept as counted (+1) or taken off as superseded (-1); 0 where `when` leaves it out.
        if when is not None:
            value = models.Case(
                models.When(when, then=value),
                default=models.Value(0),
                output_field=value.output_field,
            )
        return Coalesce(models.Sum(sign * value), 0, output_field=value.output_field)

    one = models.Value(1, output_field=models.IntegerField())
    absolute = ExpressionWrapper(Abs(error), output_field=models.FloatField())
    return (
        rows.order_by()
        .values(version=models.F("prediction__model_version"))
        .annotate(
            outcomes=signed(one),
            absolute_error=signed(absolute),
            squared_error=signed(
                ExpressionWrapper(Power(error, 2), output_field=models.FloatField())
            ),
            percentage_error=signed(
                ExpressionWrapper(absolute / actual, output_field=models.FloatField()),
                models.Q(views__gt=0),
            ),
            percentage_outcomes=signed(one, models.Q(views__gt=0)),
            inside_interval=signed(one, inside),
            with_interval=signed(one, with_interval),
        )
    )


class ModelVersionQuerySet(models.QuerySet):
    def with_served_extrapolated(self):
        """Each version with `live_extrapolated`: how many of its served answers had an input
        outside its training range (the model card's extrapolation share). Reads the served
        counts' checkpoint when called: build the queryset where it is used."""
        return self.annotate(
            live_extrapolated=served_figure("extrapolated", latest_served_checkpoint())
        )

    def with_live_error(self):
        """Each version with how it is really doing, computed by the database: predictions
        served (`served_figure`), outcomes received, and on those (the newest outcome per
        prediction) MAE, RMSE, MAPE and the share inside the interval the prediction stated.

        MAPE leaves out articles whose real views were 0 (no percentage of nothing); coverage
        counts only predictions made with an interval. Previews count in none of them.

        Each figure is made of sums (LIVE_ERROR_SUMS): the version's tally at the latest served
        checkpoint plus the change the outcomes since bring (`live_error_sums`), so no query
        reads every outcome once a seal has summed them (bench/README.md, "Live error at the
        checkpoint"); without a checkpoint that has outcome sums, every outcome is since.

        Reads the served counts' checkpoint when called (one small query), so build the queryset
        where it is used, never once at import.
        """
        checkpoint = latest_served_checkpoint()
        summed = checkpoint is not None and checkpoint.outcomes_through_id is not None
        since = live_error_sums(
            after=checkpoint.outcomes_through_id if summed else 0, version=models.OuterRef("pk")
        )
        totals = {}
        for name in LIVE_ERROR_SUMS:
            kind = ServedTally._meta.get_field(name)
            tally = models.Value(0, output_field=kind)
            if summed:
                tally = models.Subquery(
                    ServedTally.objects.filter(
                        version=models.OuterRef("pk"), checkpoint=checkpoint
                    ).values(name)
                )
            totals[f"live_{name}_sum"] = Coalesce(tally, 0, output_field=kind) + Coalesce(
                models.Subquery(since.values(name)), 0, output_field=kind
            )

        def total(name):
            return models.F(f"live_{name}_sum")

        def ratio(numerator, count, *, root=False):
            value = Cast(total(numerator), models.FloatField()) / total(count)
            if root:
                # Sums carried across corrections may round a hair below zero.
                value = Sqrt(Greatest(value, models.Value(0.0)))
            return models.Case(
                models.When(GreaterThan(total(count), 0), then=value),
                output_field=models.FloatField(),
            )

        return self.alias(**totals).annotate(
            live_predictions=served_figure("count", checkpoint),
            live_outcomes=total("outcomes"),
            live_mae=ratio("absolute_error", "outcomes"),
            live_rmse=ratio("squared_error", "outcomes", root=True),
            live_mape=ratio("percentage_error", "percentage_outcomes"),
            live_coverage=ratio("inside_interval", "with_interval"),
        )


class ModelVersion(models.Model):
    """A trained model: where its artifact is, how it was made, how good it is, whether it serves.

    Exactly one version is active at a time (a partial unique constraint guarantees it); every
    worker reads which one from here, so activating a version switches all of them.
    """

    number = models.PositiveIntegerField(_("version"), unique=True)
    algorithm = models.CharField(_("algorithm"), max_length=200)
    features = models.JSONField(
        _("features"), help_text=_("Input columns, in the order the model expects them.")
    )
    parameters = models.JSONField(
        _("parameters"),
        default=dict,
        blank=True,
        help_text=_("Fitted parameters (coefficients, intercept)."),
    )
    cv_r2 = models.FloatField(_("CV R²"))
    cv_mae = models.FloatField(_("CV MAE"))
    cv_rmse = models.FloatField(_("CV RMSE"))
    cv_folds = models.PositiveSmallIntegerField(_("CV folds"))
    training_rows = models.PositiveIntegerField(
        _("training rows"),
    )
    rows_filled = models.PositiveIntegerField(
        _("rows filled"), default=0, help_text=_("Rows whose blank 转发数 was filled with 点赞数.")
    )
    data_file_name = models.CharField(_("data file name"), max_length=500)
    data_sha256 = models.CharField(_("data sha256"), max_length=64)
    # The artifact's bytes are a ModelFile of this name (in the database, written with this row).
    artifact_name = models.CharField(_("artifact name"), max_length=500, unique=True)
    artifact_sha256 = models.CharField(_("artifact sha256"), max_length=64)
    # What a worker serves a linear model from without unpickling anything: its coefficients, in
    # a small JSON file whose checksum is verified like the artifact's (never from `parameters`,
    # which is for people to read). Empty for models served from the artifact itself.
    serving_name = models.CharField(_("serving name"), max_length=500, blank=True)
    serving_sha256 = models.CharField(_("serving file sha256"), max_length=64, blank=True)
    # An Ed25519 signature (base64) of this version's manifest: its number, features and the
    # sha256 of each of its files (services/signing.py), by the key whose fingerprint follows.
    # Whoever can write this table can change a file and its checksum, but not sign them. Empty
    # for versions stored before signing, which are refused until `manage.py sign_models`.
    signature = models.CharField(_("signature"), max_length=100, blank=True)
    signing_key = models.CharField(
        _("signing key"),
        max_length=16,
        blank=True,
        help_text=_("Fingerprint of the public key that verifies the signature."),
    )
    sklearn_version = models.CharField(_("scikit-learn version"), max_length=40)
    algorithm_name = models.CharField(
        _("algorithm name"),
        max_length=40,
        default="linear",
        help_text=_("The `retrain --algorithm` name."),
    )
    fit_seconds = models.FloatField(_("fit time (s)"), null=True, blank=True)
    # The prediction interval, as services/training.py's Interval states it; empty for versions
    # trained before intervals existed.
    interval_coverage = models.FloatField(_("interval coverage (stated)"), null=True, blank=True)
    interval_relative_half_width = models.FloatField(
        _("interval relative half width"),
        null=True,
        blank=True,
        help_text=_("Half the interval's width, as a share of the prediction."),
    )
    interval_scale_floor = models.FloatField(
        _("interval scale floor"),
        null=True,
        blank=True,
        help_text=_("Predictions below this get the interval of this value."),
    )
    cv_interval_coverage = models.FloatField(
        _("CV interval coverage"), null=True, blank=True, help_text=_("Measured on held-out folds.")
    )
    training_summary = models.JSONField(
        _("training summary"),
        default=dict,
        blank=True,
        help_text=_("Rows by source, and each column's range and mean."),
    )
    plots = models.JSONField(
        _("plots"),
        default=dict,
        blank=True,
        help_text=_("Diagnostic plots made at retrain time: name → stored file and its sha256."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    is_active = models.BooleanField(_("active"), default=False)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")
        permissions = [("activate_modelversion", _("Can activate a model version (roll back)"))]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="one_active_model_version",
            )
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return f"v{self.number}"

    @property
    def algorithm_title(self) -> str:
        return algorithm_title(self.algorithm_name)

    @property
    def live_error_problem(self) -> str:
        """Why this version's live error is flagged, or "": needs `with_live_error()`.

        Clearly worse means a live MAE above VIEWSITE_LIVE_ERROR_RATIO times the cross-validated
        MAE, on at least VIEWSITE_LIVE_MIN_OUTCOMES outcomes (fewer say too little either way).
        """
        ratio = settings.VIEWSITE_LIVE_ERROR_RATIO
        enough = self.live_outcomes >= settings.VIEWSITE_LIVE_MIN_OUTCOMES
        if enough and self.live_mae is not None and self.live_mae > ratio * self.cv_mae:
            return gettext(
                "on %(outcomes)s reported real view counts its typical miss is %(live)s views, "
                "more than %(ratio)s times the %(cv)s it had in testing"
            ) % {
                "live": display.count(self.live_mae),
                "outcomes": display.count(self.live_outcomes),
                "ratio": f"{ratio:g}",
                "cv": display.count(self.cv_mae),
            }
        return ""

    @property
    def live_error_flagged(self) -> bool:
        return bool(self.live_error_problem)

    @cached_property  # read for each input the version answers; a version's summary is fixed
    def training_ranges(self) -> dict | None:
        """Each input's {"min", "max"} in the training data; None for a version trained before
        summaries were recorded."""
        columns = self.training_summary.get("columns", {})
        ranges = {name: columns[name] for name in features.INPUT_NAMES if name in columns}
        return ranges if len(ranges) == len(features.INPUT_NAMES) else None

    def is_extrapolating(self, row: Sequence) -> bool:
        """Whether an input row (features.INPUT_NAMES' values, in order) lies outside the
        training data's range, where the model's answers rest on no data; False without ranges."""
        return self.extrapolating([row])[0]

    def extrapolating(self, rows: Sequence[Sequence]) -> list[bool]:
        """is_extrapolating for each of many rows, compared column by column in one pass (a
        file of a million rows asks it a million times)."""
        bounds = self.training_bounds
        if bounds is None or not len(rows):
            return [False] * len(rows)
        lowest, highest = bounds
        matrix = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(lowest))
        return ((matrix < lowest) | (matrix > highest)).any(axis=1).tolist()

    @cached_property  # asked on every answer; a version's summary is fixed
    def training_bounds(self) -> tuple[np.ndarray, np.ndarray] | None:
        """training_ranges as two arrays, each input's lowest and highest in INPUT_NAMES' order."""
        ranges = self.training_ranges
        if ranges is None:
            return None
        return tuple(
            np.array([ranges[name][end] for name in features.INPUT_NAMES], dtype=np.float64)
            for end in ("min", "max")
        )

    @staticmethod
    def number_from_label(label: str) -> int | None:
        """3 for "v3" (or "3"); None for anything that is not a version label."""
        number = label.strip().lower().removeprefix("v")
        return int(number) if number.isdigit() and len(number) < 10 else None


class ModelFile(models.Model):
    """The bytes of one of a version's files: its joblib artifact, its serving spec, a plot.

    Kept in the database and written in the transaction that writes the version, so every app
    host reads them from the one place they share, and a failed retrain leaves nothing behind.
    A table of its own, not columns of ModelVersion, so that the many queries that read versions
    (the audit trail's, the admin's) never carry megabytes of pickle along.
    """

    version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="files", verbose_name=_("version")
    )
    # The name the version's row gives it (artifact_name, serving_name, a plot's name).
    name = models.CharField(_("name"), max_length=500, unique=True)
    content = models.BinaryField(_("content"))

    class Meta:
        verbose_name = _("model file")
        verbose_name_plural = _("model files")

    def __str__(self) -> str:
        return self.name


class AppendOnlyQuerySet(models.QuerySet):
    """Refuses bulk updates and deletes: these tables only grow."""

    def update(self, **kwargs):
        raise PermissionError("These records are append-only; they cannot be updated.")

    def delete(self):
        raise PermissionError("These records are append-only; they cannot be deleted.")


class AppendOnlyModel(models.Model):
    """A row is inserted once and never changed or deleted through the ORM."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None:  # a row is only ever inserted, and its id is the database's
            raise PermissionError("These records are append-only; they cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("These records are append-only; they cannot be deleted.")


class Activation(AppendOnlyModel):
    """Who made which version the served one, when, through which door, and why.

    Why is stored as a code and its parameters, never as a sentence: the card, the admin and the
    commands say it in their reader's language (reason_text). Only what a person typed is kept
    as words, theirs, in `reason`.
    """

    class Door(models.TextChoices):
        RETRAIN = "retrain", _("retrain")
        COMMAND = "command", _("activate command")
        ADMIN = "admin", _("admin")
        API = "api", _("API")

    class Reason(models.TextChoices):
        # In `reason`, as whoever activated the version typed it (or, for rows written before
        # codes, the stored sentence that 0020_activation_reason_codes could not read).
        STATED = "stated", _("stated by whoever activated it")
        # `retrain` activated what it had just stored. Parameters: algorithm (its --algorithm
        # name), data_file, outcome_rows.
        RETRAINED = "retrained", _("retrained")

    version = models.ForeignKey(
        ModelVersion,
        on_delete=models.PROTECT,
        related_name="activations",
        verbose_name=_("version"),
    )
    previous = models.ForeignKey(
        ModelVersion,
        verbose_name=_("previous"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The version served until then."),
    )
    activated_at = models.DateTimeField(_("activated at"), default=timezone.now, db_index=True)
    door = models.CharField(_("door"), max_length=8, choices=Door.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        verbose_name=_("user"),
    )
    reason_code = models.CharField(
        _("reason code"), max_length=16, choices=Reason.choices, default=Reason.STATED
    )
    reason_parameters = models.JSONField(
        _("reason parameters"),
        default=dict,
        blank=True,
        help_text=_("What the reason's sentence names (the algorithm, the data file)."),
    )
    REASON_MAX = 500
    reason = models.CharField(
        _("reason"),
        max_length=REASON_MAX,
        blank=True,
        help_text=_("As whoever activated the version typed it."),
    )

    class Meta:
        ordering = ["-activated_at", "-id"]
        verbose_name = _("activation")
        verbose_name_plural = _("activations")

    def __str__(self) -> str:
        return display.activation_title(self)

    @staticmethod
    def retrained(*, algorithm: str, data_file: str, outcome_rows: int = 0) -> tuple[str, dict]:
        """The reason `retrain` gives for activating what it stored: (code, parameters), as
        `services.activate` takes them."""
        return Activation.Reason.RETRAINED, {
            "algorithm": algorithm,
            "data_file": data_file,
            "outcome_rows": outcome_rows,
        }

    def reason_text(self) -> str:
        """Why, in the active language: a reason the system gave, said from its code; a
        person's words as they typed them ("" when they gave none)."""
        return self._said(html=False)

    def reason_html(self) -> str:
        """reason_text for a page: escaped, and the file name marked as code (a name, not a
        word of the reader's language)."""
        return self._said(html=True)

    def _said(self, *, html: bool) -> str:
        if self.reason_code != self.Reason.RETRAINED:
            return conditional_escape(self.reason) if html else self.reason
        parameters = self.reason_parameters
        named = {
            "algorithm": algorithm_title(parameters.get("algorithm", "")),
            "file": parameters.get("data_file", ""),
            "outcomes": display.count(parameters.get("outcome_rows") or 0),
        }
        if html:
            named = {key: conditional_escape(value) for key, value in named.items()}
            named["file"] = format_html("<code>{}</code>", parameters.get("data_file", ""))
        if parameters.get("outcome_rows"):
            sentence = gettext(
                "Retrained on %(file)s plus %(outcomes)s real view counts (%(algorithm)s), "
                "switched on automatically"
            )
        else:
            sentence = gettext("Retrained on %(file)s (%(algorithm)s), switched on automatically")
        # The sentence is ours (the catalogue's); what fills it was escaped above.
        return mark_safe(sentence % named) if html else sentence % named


USER_AGENT_MAX = 512


class Channel(models.TextChoices):
    """The door a prediction request came through."""

    FORM = "form", _("Form")
    API = "api", _("API")
    CLI = "cli", _("Command line")
    # The form's answer-as-you-type: audited, but never an answer anyone kept, so no figure
    # about what a version answered (served count, live error, training rows) includes it.
    PREVIEW = "preview", _("Preview")


class PredictionRequestQuerySet(AppendOnlyQuerySet):
    def served(self):
        """The answers a version served: accepted, and not a preview (which nobody kept). What
        a version's served count and extrapolation share count, and nothing else."""
        return self.filter(accepted=True).exclude(channel=Channel.PREVIEW)


class PredictionRequest(AppendOnlyModel):
    """One prediction asked for, from the form or the API, whether it was answered or refused.

    Rows are written before the response is sent and never changed afterwards.
    """

    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    accepted = models.BooleanField(
        _("accepted"),
    )
    raw_input = models.JSONField(
        _("raw input"), null=True, blank=True, help_text=_("The input as received.")
    )
    likes = models.PositiveIntegerField(
        features.LIKES.title, null=True, validators=features.LIKES.validators
    )
    shares = models.PositiveIntegerField(
        features.SHARES.title, null=True, validators=features.SHARES.validators
    )
    views = models.FloatField(features.VIEWS.title, null=True, blank=True)
    views_lower = models.FloatField(_("interval low"), null=True, blank=True)
    views_upper = models.FloatField(_("interval high"), null=True, blank=True)
    # What the figures about a version's answers (its served count's extrapolation share) are
    # summed from, at a checkpoint, instead of being counted by a write per request.
    extrapolated = models.BooleanField(
        _("outside the training range"),
        null=True,
        blank=True,
        help_text=_(
            "Whether the input lay outside the range of the version's training data; empty for a "
            "refused request, and for answers recorded before this was."
        ),
    )
    errors = models.JSONField(_("errors"), null=True, blank=True)
    model_version = models.ForeignKey(
        ModelVersion,
        verbose_name=_("model version"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="predictions",
        help_text=_("The version that answered; empty when the request was refused."),
        # The (model_version, created_at) index below serves every lookup by version.
        db_index=False,
    )
    latency_ms = models.FloatField(_("latency (ms)"))
    client_ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=USER_AGENT_MAX, blank=True)
    # PROTECT: a user who appears in the audit trail is deactivated, not deleted, so no row changes.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        verbose_name=_("user"),
    )
    batch_id = models.UUIDField(_("batch id"), null=True, blank=True)
    batch_index = models.PositiveIntegerField(_("batch index"), null=True, blank=True)

    objects = PredictionRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("prediction request")
        verbose_name_plural = _("prediction requests")
        # Every index is written on every INSERT, and the audit INSERT is on every request's path.
        # So a request that is answered, anonymous and single touches only the table, the date
        # index and the version index; the rarer values (a refusal, a user, a batch) are found
        # through partial indexes that rows without them never enter (bench/README.md).
        indexes = [
            # A version's records newest first, in the list's full order (-created_at, -id), so
            # PostgreSQL reads them from here rather than from the date index, where an old
            # version's rows lie behind millions of newer ones (0011_audit_at_scale).
            models.Index(
                fields=["model_version", "created_at", "id"], name="prediction_version_newest"
            ),
            models.Index(
                fields=["created_at"], condition=models.Q(accepted=False), name="prediction_refused"
            ),
            models.Index(
                fields=["user"], condition=models.Q(user__isnull=False), name="prediction_user"
            ),
            models.Index(
                fields=["batch_id"],
                condition=models.Q(batch_id__isnull=False),
                name="prediction_batch",
            ),
            # The admin's channel filter (and its bounded count) on a busy table: API rows, the
            # bulk of the trail, enter neither; the rarer doors are read newest first
            # (0011_audit_at_scale). A search by client IP uses a PostgreSQL-only index on the
            # address's text that the same migration adds (it is no model index: SQLite has no
            # HOST()).
            models.Index(
                fields=["created_at"],
                condition=models.Q(channel=Channel.FORM),
                name="prediction_form",
            ),
            models.Index(
                fields=["created_at"],
                condition=models.Q(channel=Channel.CLI),
                name="prediction_cli",
            ),
        ]

    # An audit record's fields as staff read them, in order: the history API and the admin's CSV
    # export (model_version and user as their label and username).
    AUDIT_FIELDS = (
        "id",
        "created_at",
        "channel",
        "accepted",
        *features.INPUT_NAMES,
        "views",
        "views_lower",
        "views_upper",
        "extrapolated",
        "model_version",
        "errors",
        "raw_input",
        "latency_ms",
        "client_ip",
        "user_agent",
        "user",
        "batch_id",
        "batch_index",
    )

    def __str__(self) -> str:
        return display.prediction_title(self)

    @property
    def served_views(self) -> float | None:
        """The answer this row's request was served (features.served_views of the model's figure
        the row keeps); None for a refusal."""
        return None if self.views is None else features.served_views(self.views)


class OutcomeQuerySet(AppendOnlyQuerySet):
    def latest_per_prediction(self):
        """The outcome in force for each prediction: a later one supersedes, never erases."""
        later = Outcome.objects.filter(
            prediction=models.OuterRef("prediction"), pk__gt=models.OuterRef("pk")
        )
        return self.filter(~models.Exists(later))


class Outcome(AppendOnlyModel):
    """The real view count of an article, learned after it was predicted.

    Linked to the audit row, which stays as it was. A prediction may receive several outcomes (a
    correction, a later count); the newest is the one in force and the older ones stay on record.
    """

    class Source(models.TextChoices):
        API = "api", _("API")
        IMPORT = "import", _("import_outcomes")
        ADMIN = "admin", _("admin")

    prediction = models.ForeignKey(
        PredictionRequest,
        verbose_name=_("prediction"),
        on_delete=models.PROTECT,
        related_name="outcomes",
        # The (prediction, id) index below serves both the join and "the newest per prediction".
        db_index=False,
    )
    views = models.PositiveBigIntegerField(_("real views"))
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now, db_index=True)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        verbose_name=_("user"),
    )
    NOTE_MAX = 500
    note = models.CharField(
        _("note"), max_length=NOTE_MAX, blank=True, help_text=_("Where it came from.")
    )

    objects = OutcomeQuerySet.as_manager()

    class Meta:
        ordering = ["-recorded_at", "-id"]
        verbose_name = _("outcome")
        verbose_name_plural = _("outcomes")
        permissions = [("record_outcome", _("Can record the real outcome of a prediction"))]
        indexes = [models.Index(fields=["prediction", "id"])]

    def __str__(self) -> str:
        return display.outcome_title(self)


class ServedCheckpoint(models.Model):
    """How far the served figures have been summed: every audit row with an id through
    `through_id` is in this checkpoint's tallies, one per version that has answered.

    A version's served count and extrapolation share are its tally at the latest checkpoint plus
    its rows written since (services/served.py), so nothing but the audit row is written per
    request and no page counts a year of the trail. Sealing the audit advances it, to the id the
    seal reached: every row up to there is committed (the seal's lag), so none is left out.
    Derived from the trail and the checkpoint before it; those a day older than the latest are
    removed (services/served.py).
    """

    through_id = models.BigIntegerField(_("prediction ids through"), unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # Checkpoints stored before inputs were binned have none; the first advance after them sums
    # every served row once (services/served.py).
    has_input_histograms = models.BooleanField(_("with input histograms"), default=False)
    # Every outcome with an id through this is in the tallies' live error sums; empty for
    # checkpoints stored before they were kept: the first advance after them sums every outcome
    # once, and with_live_error reads every outcome as since.
    outcomes_through_id = models.BigIntegerField(_("outcome ids through"), null=True, blank=True)

    class Meta:
        ordering = ["-through_id"]
        verbose_name = _("served counts checkpoint")
        verbose_name_plural = _("served counts checkpoints")

    def __str__(self) -> str:
        return f"through #{self.through_id} ({self.created_at:%Y-%m-%d %H:%M:%S})"


class ServedTally(models.Model):
    """What one version had answered, all told, up to its checkpoint: the answers kept (previews
    are not) and those with an input outside the training range; and the sums its live error is
    made of, over the outcomes up to the checkpoint's outcome id."""

    checkpoint = models.ForeignKey(
        ServedCheckpoint,
        on_delete=models.CASCADE,
        related_name="tallies",
        verbose_name=_("checkpoint"),
    )
    version = models.ForeignKey(
        ModelVersion,
        on_delete=models.CASCADE,
        related_name="served_tallies",
        verbose_name=_("model version"),
    )
    count = models.PositiveBigIntegerField(_("predictions"))
    extrapolated = models.PositiveBigIntegerField(_("outside the training range"))
    # The live error's sums (LIVE_ERROR_SUMS) over the outcomes in force (the newest per
    # prediction) with ids through the checkpoint's outcomes_through_id; zero when it has none.
    outcomes = models.PositiveBigIntegerField(_("outcomes"), default=0)
    absolute_error = models.FloatField(_("sum of absolute errors"), default=0.0)
    squared_error = models.FloatField(_("sum of squared errors"), default=0.0)
    percentage_error = models.FloatField(
        _("sum of relative errors"), default=0.0, help_text=_("Over outcomes above 0 views.")
    )
    percentage_outcomes = models.PositiveBigIntegerField(_("outcomes above 0 views"), default=0)
    inside_interval = models.PositiveBigIntegerField(_("inside the interval"), default=0)
    with_interval = models.PositiveBigIntegerField(_("outcomes with an interval"), default=0)

    class Meta:
        verbose_name = _("served tally")
        verbose_name_plural = _("served tallies")
        constraints = [
            models.UniqueConstraint(
                fields=["checkpoint", "version"], name="one_served_tally_per_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.version} through #{self.checkpoint.through_id}: {self.count}"


class ServedInputHistogram(models.Model):
    """How many of one version's served answers, up to its checkpoint, had each input in each
    bin of DRIFT_BIN_WIDTH (services/drift.py): what drift is measured on without reading the
    trail. `counts` maps a bin's number (value // width, as text: JSON's keys are) to its
    answers; `below` and `above` count those outside the version's training range exactly, which
    a bin straddling its ends could not tell."""

    checkpoint = models.ForeignKey(
        ServedCheckpoint,
        on_delete=models.CASCADE,
        related_name="input_histograms",
        verbose_name=_("checkpoint"),
    )
    version = models.ForeignKey(
        ModelVersion,
        on_delete=models.CASCADE,
        related_name="served_input_histograms",
        verbose_name=_("model version"),
    )
    feature = models.CharField(_("input"), max_length=20)
    counts = models.JSONField(_("answers per bin"), default=dict)
    below = models.PositiveBigIntegerField(_("below the training range"), default=0)
    above = models.PositiveBigIntegerField(_("above the training range"), default=0)
    # Drift over every answer through the checkpoint, computed by the process that stored it
    # (seal_audit's), so /metrics reads three numbers and a web worker never imports scipy.
    # Empty for a version trained before its data's distribution was recorded, and on
    # checkpoints stored before these columns existed, until the next seal stores a new one.
    effect = models.FloatField(
        _("difference from the training data"),
        null=True,
        blank=True,
        help_text=_(
            "The KS statistic under 1,000 answers, else the Wasserstein distance in training "
            "standard deviations, over every answer through this checkpoint. Empty when the "
            "version was trained before its data's distribution was recorded, or the checkpoint "
            "was stored before drift was (the next seal stores it)."
        ),
    )
    drifted = models.BooleanField(_("drifted"), null=True, blank=True)
    share_outside = models.FloatField(_("share outside the training range"), null=True, blank=True)

    class Meta:
        verbose_name = _("served input histogram")
        verbose_name_plural = _("served input histograms")
        constraints = [
            models.UniqueConstraint(
                fields=["checkpoint", "version", "feature"],
                name="one_served_input_histogram_per_feature",
            )
        ]

    def __str__(self) -> str:
        return f"{self.version} {self.feature} through #{self.checkpoint.through_id}"


class ThrottledRequestCount(models.Model):
    """How many requests one client had refused by the rate limit in one minute.

    A flood of refused requests must not become a flood of audit writes, so refusals are counted
    in the shared cache and written here per client and minute, at most about once a second.
    """

    minute = models.DateTimeField(_("minute"), db_index=True)
    scope = models.CharField(
        _("scope"), max_length=32, help_text=_("The rate limit that refused them.")
    )
    client = models.CharField(
        _("client"), max_length=64, help_text=_("Client IP, or user id for users.")
    )
    count = models.PositiveIntegerField(_("count"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-minute", "-count"]
        verbose_name = _("rate-limited requests")
        verbose_name_plural = _("rate-limited requests")
        constraints = [
            models.UniqueConstraint(
                fields=["minute", "scope", "client"], name="one_count_per_client_minute"
            )
        ]

    def __str__(self) -> str:
        return display.throttled_title(self)


class AuditSeal(AppendOnlyModel):
    """One link of the hash chain that makes tampering with the audit trail detectable.

    A seal covers the prediction requests and outcomes written since the seal before it: the ids
    after `*_after_id` through `*_through_id`, which ids of that range exist (as runs), and a short
    hash of each of those rows. Its digest covers all of that and the previous seal's digest, keyed
    with a secret the database never holds when VIEWSITE_AUDIT_SEAL_KEY is set. `manage.py
    verify_audit` recomputes the chain and names any row changed, removed or inserted since
    (predictor/services/sealing.py).
    """

    class RowEncoding(models.TextChoices):
        """How each row was turned into bytes before hashing (predictor/services/sealing.py)."""

        JSON = "json", _("canonical JSON, hashed in Python")
        POSTGRESQL = "postgresql", _("PostgreSQL's binary row format, hashed by PostgreSQL")

    number = models.PositiveIntegerField(_("number"), unique=True)
    sealed_at = models.DateTimeField(_("sealed at"), default=timezone.now)
    cutoff = models.DateTimeField(
        _("rows written before"),
        help_text=_("Rows younger than this were left to the next seal."),
    )
    previous_digest = models.CharField(_("previous digest"), max_length=64, blank=True)
    digest = models.CharField(_("digest"), max_length=64)
    columns = models.JSONField(
        _("columns"), help_text=_("The columns hashed, per table, in order.")
    )
    # Seals made before the field existed hashed canonical JSON.
    row_encoding = models.CharField(
        _("row encoding"), max_length=16, choices=RowEncoding.choices, default=RowEncoding.JSON
    )
    predictions_after_id = models.BigIntegerField(_("prediction ids after"))
    predictions_through_id = models.BigIntegerField(_("prediction ids through"))
    prediction_count = models.PositiveIntegerField(_("prediction requests"))
    prediction_ids = models.BinaryField(_("prediction id runs"))
    prediction_hashes = models.BinaryField(_("prediction row hashes"))
    outcomes_after_id = models.BigIntegerField(_("outcome ids after"))
    outcomes_through_id = models.BigIntegerField(_("outcome ids through"))
    outcome_count = models.PositiveIntegerField(_("outcomes"))
    outcome_ids = models.BinaryField(_("outcome id runs"))
    outcome_hashes = models.BinaryField(_("outcome row hashes"))

    class Meta:
        ordering = ["-number"]
        verbose_name = _("audit seal")
        verbose_name_plural = _("audit seals")

    def __str__(self) -> str:
        return display.seal_title(self)


class ReplayRun(models.Model):
    """A candidate version replayed on what the active one served (services/replay.py): the
    requests it was scored on, against which version, and the figures it found.

    Derived from the audit trail and kept so that a model card shows the latest run without
    replaying millions of rows per page view; `manage.py replay` writes one per run.
    """

    candidate = models.ForeignKey(
        ModelVersion,
        verbose_name=_("candidate"),
        on_delete=models.CASCADE,
        related_name="replays",
    )
    incumbent = models.ForeignKey(
        ModelVersion,
        verbose_name=_("replayed against"),
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("The version that was active and served the requests."),
    )
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)
    since = models.DateTimeField(
        _("requests since"), null=True, blank=True, help_text=_("Empty: from the first one.")
    )
    rows = models.PositiveBigIntegerField(_("requests replayed"))
    through_id = models.BigIntegerField(
        _("prediction ids through"),
        null=True,
        blank=True,
        help_text=_("The newest request replayed; empty when there was none."),
    )
    report = models.JSONField(_("figures"), default=dict)

    class Meta:
        ordering = ["-computed_at", "-id"]
        verbose_name = _("replay")
        verbose_name_plural = _("replays")
        indexes = [
            models.Index(fields=["candidate", "computed_at"], name="replay_candidate_latest")
        ]

    def __str__(self) -> str:
        return gettext("%(candidate)s replayed against %(incumbent)s, %(when)s") % {
            "candidate": self.candidate.label,
            "incumbent": self.incumbent.label,
            "when": display.when(self.computed_at),
        }
