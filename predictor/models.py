"""The two tables: trained model versions, and the append-only audit trail of predictions."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from . import features


class ModelVersion(models.Model):
    """A trained model: where its artifact is, how it was made, how good it is, whether it serves.

    Exactly one version is active at a time (a partial unique constraint guarantees it); every
    worker reads which one from here, so activating a version switches all of them.
    """

    number = models.PositiveIntegerField("version", unique=True)
    algorithm = models.CharField(max_length=200)
    features = models.JSONField(help_text="Input columns, in the order the model expects them.")
    parameters = models.JSONField(
        default=dict, blank=True, help_text="Fitted parameters (coefficients, intercept)."
    )
    cv_r2 = models.FloatField("CV R²")
    cv_mae = models.FloatField("CV MAE")
    cv_rmse = models.FloatField("CV RMSE")
    cv_folds = models.PositiveSmallIntegerField("CV folds")
    training_rows = models.PositiveIntegerField()
    rows_filled = models.PositiveIntegerField(
        default=0, help_text="Rows whose blank 转发数 was filled with 点赞数."
    )
    data_file_name = models.CharField(max_length=500)
    data_sha256 = models.CharField("data sha256", max_length=64)
    artifact_name = models.CharField(max_length=500, unique=True)
    artifact_sha256 = models.CharField("artifact sha256", max_length=64)
    # What a worker serves a linear model from without unpickling anything: its coefficients, in
    # a small JSON file whose checksum is verified like the artifact's (never from `parameters`,
    # which is for people to read). Empty for models served from the artifact itself.
    serving_name = models.CharField(max_length=500, blank=True)
    serving_sha256 = models.CharField("serving file sha256", max_length=64, blank=True)
    sklearn_version = models.CharField("scikit-learn version", max_length=40)
    created_at = models.DateTimeField(default=timezone.now)
    is_active = models.BooleanField("active", default=False)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        permissions = [("activate_modelversion", "Can activate a model version (roll back)")]
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

    @staticmethod
    def number_from_label(label: str) -> int | None:
        """3 for "v3" (or "3"); None for anything that is not a version label."""
        number = label.strip().lower().removeprefix("v")
        return int(number) if number.isdigit() and len(number) < 10 else None


USER_AGENT_MAX = 512


class Channel(models.TextChoices):
    """The door a prediction request came through."""

    FORM = "form", "Form"
    API = "api", "API"


class PredictionRequestQuerySet(models.QuerySet):
    """Refuses bulk updates and deletes: the audit trail only grows."""

    def update(self, **kwargs):
        raise PermissionError("Audit records are append-only; they cannot be updated.")

    def delete(self):
        raise PermissionError("Audit records are append-only; they cannot be deleted.")


class PredictionRequest(models.Model):
    """One prediction asked for, from the form or the API, whether it was answered or refused.

    Rows are written before the response is sent and never changed afterwards.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    accepted = models.BooleanField()
    raw_input = models.JSONField(null=True, blank=True, help_text="The input as received.")
    likes = models.PositiveIntegerField(
        features.LIKES.label, null=True, validators=features.LIKES.validators
    )
    shares = models.PositiveIntegerField(
        features.SHARES.label, null=True, validators=features.SHARES.validators
    )
    views = models.FloatField(features.VIEWS.label, null=True, blank=True)
    errors = models.JSONField(null=True, blank=True)
    model_version = models.ForeignKey(
        ModelVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="predictions",
        help_text="The version that answered; empty when the request was refused.",
        # The (model_version, created_at) index below serves every lookup by version.
        db_index=False,
    )
    latency_ms = models.FloatField("latency (ms)")
    client_ip = models.GenericIPAddressField("client IP", null=True, blank=True)
    user_agent = models.CharField(max_length=USER_AGENT_MAX, blank=True)
    # PROTECT: a user who appears in the audit trail is deactivated, not deleted, so no row changes.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, db_index=False
    )
    batch_id = models.UUIDField(null=True, blank=True)
    batch_index = models.PositiveIntegerField(null=True, blank=True)

    objects = PredictionRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        # Every index is written on every INSERT, and the audit INSERT is on every request's path.
        # So a request that is answered, anonymous and single touches only the table, the date
        # index and the version index; the rarer values (a refusal, a user, a batch) are found
        # through partial indexes that rows without them never enter (bench/README.md).
        indexes = [
            models.Index(fields=["model_version", "created_at"]),
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
        ]

    def __str__(self) -> str:
        outcome = f"{self.views:.2f}" if self.accepted else "refused"
        return f"#{self.pk} {self.channel} {self.created_at:%Y-%m-%d %H:%M:%S} → {outcome}"

    def save(self, *args, **kwargs):
        if self.pk is not None:  # a row is only ever inserted, and its id is the database's
            raise PermissionError("Audit records are append-only; they cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit records are append-only; they cannot be deleted.")


class ThrottledRequestCount(models.Model):
    """How many requests one client had refused by the rate limit in one minute.

    A flood of refused requests must not become a flood of audit writes, so refusals are counted
    in the shared cache and written here per client and minute, at most about once a second.
    """

    minute = models.DateTimeField(db_index=True)
    scope = models.CharField(max_length=32, help_text="The rate limit that refused them.")
    client = models.CharField(max_length=64, help_text="Client IP, or user id for users.")
    count = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-minute", "-count"]
        constraints = [
            models.UniqueConstraint(
                fields=["minute", "scope", "client"], name="one_count_per_client_minute"
            )
        ]

    def __str__(self) -> str:
        return f"{self.client} {self.scope} {self.minute:%Y-%m-%d %H:%M}: {self.count}"
