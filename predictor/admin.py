"""The admin: where the auditor reviews the prediction history and the operator rolls back."""

import calendar
import ipaddress
import re
import uuid
from datetime import date, datetime, time, timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db import models
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import refusals, services
from .forms import CountField
from .models import (
    Activation,
    AuditSeal,
    ModelVersion,
    Outcome,
    PredictionRequest,
    ThrottledRequestCount,
)
from .services import exports


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records nobody may add, change or delete here, superusers included: Django shows
    every field read-only to those who may only view."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class BoundedCountPaginator(Paginator):
    """Counts at most COUNT_BOUND rows, since counting the whole trail on every list page is
    slow at scale and the deepest page is an OFFSET walk (figures: bench/README.md).

    Past the bound, `count` is the bound and `beyond_bound` is true: the list then says "more
    than", its last page is the bound's, and a deeper page number is refused like any other.
    """

    COUNT_BOUND = 10_000

    @cached_property
    def count(self) -> int:
        return min(self.bounded_count, self.COUNT_BOUND)

    @cached_property
    def beyond_bound(self) -> bool:
        return self.bounded_count > self.COUNT_BOUND

    @cached_property
    def bounded_count(self) -> int:
        """The rows, counted up to one past the bound. No ORDER BY: the count needs none, and
        without it PostgreSQL stops at the bound in the table or in the filters' index."""
        return self.object_list.order_by()[: self.COUNT_BOUND + 1].count()


class CreatedDrillDown(admin.SimpleListFilter):
    """Year, then month, then day: each a range on the created_at index.

    In place of `date_hierarchy`, whose links come from SELECT DISTINCT over the truncated date
    of every (filtered) row, a full scan at ten million rows. The years run from the oldest
    record to the newest (two index reads); months and days are generated, so an empty one shows
    an empty list rather than being left out.
    """

    title = _("date")
    parameter_name = "created"
    PATTERN = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")

    def period(self) -> tuple[date, date] | None:
        """[first day, day after the last) of the chosen year, month or day; None for none."""
        value = self.value()
        if not value:
            return None
        found = self.PATTERN.fullmatch(value)
        try:
            year, month, day = (int(part) if part else None for part in found.groups())
            if day is not None:
                first = date(year, month, day)
                return first, first + timedelta(days=1)
            if month is not None:
                first = date(year, month, 1)
                return first, (first + timedelta(days=31)).replace(day=1)
            return date(year, 1, 1), date(year + 1, 1, 1)
        except (AttributeError, ValueError, OverflowError) as error:
            raise IncorrectLookupParameters(value) from error

    def lookups(self, request, model_admin):
        span = PredictionRequest.objects.aggregate(
            first=models.Min("created_at"), last=models.Max("created_at")
        )
        if span["first"] is None:
            return []
        years = range(
            timezone.localdate(span["first"]).year, timezone.localdate(span["last"]).year + 1
        )
        period = self.period()
        if period is None:
            return [(str(year), str(year)) for year in years]
        first, after = period
        chosen = [first.strftime("%Y")]
        if after - first < timedelta(days=32):  # a month or a day: its days
            chosen.append(first.strftime("%Y-%m"))
            days = calendar.monthrange(first.year, first.month)[1]
            chosen += [first.replace(day=day).isoformat() for day in range(1, days + 1)]
        else:  # a year: its months
            chosen += [f"{first.year}-{month:02}" for month in range(1, 13)]
        return [(value, value) for value in chosen]

    def queryset(self, request, queryset):
        period = self.period()
        if period is None:
            return queryset
        start, end = (timezone.make_aware(datetime.combine(day, time.min)) for day in period)
        return queryset.filter(created_at__gte=start, created_at__lt=end)


@admin.register(PredictionRequest)
class PredictionRequestAdmin(ReadOnlyAdmin):
    """The auditor's view of the trail, kept fast at ten million rows (bench/README.md): the
    count is bounded, every filter and search is a range in an index, and the export streams."""

    list_display = [
        "id",
        "created_at",
        "channel",
        "accepted",
        "likes",
        "shares",
        "views",
        "model_version",
        "latency_ms",
        "client_ip",
        "user",
    ]
    list_filter = ["channel", "accepted", "model_version", CreatedDrillDown, "created_at"]
    search_fields = ["client_ip", "user__username", "batch_id"]
    search_help_text = _("An IP address or its beginning (203.0.113.), a username, or a batch id.")
    list_select_related = ["model_version", "user"]
    actions = ["export_csv"]
    paginator = BoundedCountPaginator
    # Rendering a row of the list costs more than reading it: 50 rows keep a page quick.
    list_per_page = 50
    show_full_result_count = False
    # A count per filter choice, each over the whole trail: never.
    show_facets = admin.ShowFacets.NEVER
    readonly_fields = ["refused_because"]

    def get_fields(self, request, obj=None):
        # The refusals in the reader's words right after the stored JSON, which stays for the
        # auditor (codes for new rows, sentences for older ones).
        fields = [name for name in super().get_fields(request, obj) if name != "refused_because"]
        fields.insert(fields.index("errors") + 1, "refused_because")
        return fields

    @admin.display(description=_("why refused"))
    def refused_because(self, obj):
        described = refusals.describe_errors(obj.errors)
        if not described:
            return "-"
        return format_html(
            '<ul class="refusals">{}</ul>',
            format_html_join(
                "",
                "<li><code>{}</code>: {}</li>",
                (
                    (name, sentence)
                    for name, sentences in described.items()
                    for sentence in (sentences if isinstance(sentences, list) else [sentences])
                ),
            ),
        )

    def get_search_results(self, request, queryset, search_term):
        """One lookup, chosen by what the term looks like, each served by an index: an IP
        address or its beginning, a batch id, or else a username (exact). Searching every field
        at once, as Django does, OR'd them into a scan of the whole trail."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if _is_ip_or_prefix(term):
            found = queryset.filter(client_ip__startswith=term)
            if _is_ip(term):
                # The prefix finds candidates in the index on the address's text; this keeps
                # 203.0.113.9 from matching 203.0.113.90.
                found = found.filter(client_ip=term)
            return found, False
        try:
            return queryset.filter(batch_id=uuid.UUID(term)), False
        except ValueError:
            pass
        # The user's id first, so that PostgreSQL reads their rows rather than join every row.
        user = get_user_model().objects.filter(username=term).values_list("pk", flat=True).first()
        return (queryset.none() if user is None else queryset.filter(user_id=user)), False

    @admin.action(description=_("Export selected records as CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        """The selected records (or, with "select all", everything the filters and search
        chose: one day, say, or the whole trail) as CSV, streamed: read from the database in
        chunks (a server-side cursor on PostgreSQL), so memory stays flat at any size."""
        response = StreamingHttpResponse(
            exports.audit_csv_chunks(queryset), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="predictions-{stamp}.csv"'
        # nginx would otherwise buffer minutes of export to disk before passing it on.
        response["X-Accel-Buffering"] = "no"
        return response


IP_PREFIX = re.compile(r"[0-9]{1,3}(\.[0-9]{0,3}){1,3}|[0-9a-fA-F]{0,4}(:[0-9a-fA-F]{0,4}){1,7}")


def _is_ip_or_prefix(term: str) -> bool:
    return IP_PREFIX.fullmatch(term) is not None


def _is_ip(term: str) -> bool:
    try:
        ipaddress.ip_address(term)
    except ValueError:
        return False
    return True


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    """Versions come from `manage.py retrain`, which records how they were made; here they are
    reviewed with their live error, and activated by whoever holds the dedicated permission."""

    list_display = [
        "label",
        "is_active",
        "algorithm_name",
        "cv_r2",
        "cv_mae",
        "cv_interval_coverage",
        "live_predictions",
        "live_outcomes",
        "live_mae",
        "live_rmse",
        "live_mape",
        "live_coverage",
        "live_error",
        "card",
        "created_at",
        "activated_at",
    ]
    list_filter = ["is_active", "algorithm_name"]
    actions = ["activate_version"]

    def get_queryset(self, request):
        return super().get_queryset(request).with_live_error()

    @admin.display(description=_("version"), ordering="number")
    def label(self, obj):
        return obj.label

    @admin.display(description=_("predictions"), ordering="live_predictions")
    def live_predictions(self, obj):
        return obj.live_predictions

    @admin.display(description=_("outcomes"), ordering="live_outcomes")
    def live_outcomes(self, obj):
        return obj.live_outcomes

    @admin.display(description=_("live MAE"), ordering="live_mae")
    def live_mae(self, obj):
        return _number(obj.live_mae)

    @admin.display(description=_("live RMSE"), ordering="live_rmse")
    def live_rmse(self, obj):
        return _number(obj.live_rmse)

    @admin.display(description=_("live MAPE"), ordering="live_mape")
    def live_mape(self, obj):
        return _percent(obj.live_mape)

    @admin.display(description=_("inside interval"), ordering="live_coverage")
    def live_coverage(self, obj):
        return _percent(obj.live_coverage)

    @admin.display(description=_("live error"))
    def live_error(self, obj):
        if obj.live_error_problem:
            return format_html(
                '<strong class="live-error-flag">⚠ {}</strong>', obj.live_error_problem
            )
        return gettext("ok")

    @admin.display(description=_("model card"))
    def card(self, obj):
        url = reverse("predictor:model-card", kwargs={"number": obj.number})
        return format_html('<a href="{}">{}</a>', url, obj.label)

    def has_activate_permission(self, request):
        return request.user.has_perm("predictor.activate_modelversion")

    @admin.action(
        description=_("Activate this version (serve it from now on)"), permissions=["activate"]
    )
    def activate_version(self, request, queryset):
        """Asks why first (an intermediate page), then activates and records the reason."""
        if queryset.count() != 1:
            self.message_user(
                request, gettext("Select exactly one version to activate."), messages.ERROR
            )
            return None
        version = queryset.get()
        form = ActivationReasonForm(request.POST if "confirm" in request.POST else None)
        if not form.is_valid():
            return TemplateResponse(
                request,
                "admin/predictor/modelversion/activate.html",
                {
                    **self.admin_site.each_context(request),
                    "title": gettext("Activate %(version)s") % {"version": version.label},
                    "version": version,
                    "active": ModelVersion.objects.filter(is_active=True).first(),
                    "form": form,
                    "opts": self.opts,
                    "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                },
            )
        try:
            services.activate(
                version=version,
                door=Activation.Door.ADMIN,
                user_id=request.user.pk,
                reason=form.cleaned_data["reason"],
            )
        except services.ModelUnavailable as error:
            self.message_user(request, str(error), messages.ERROR)
            return None
        self.message_user(
            request,
            gettext("Model %(version)s is now active.") % {"version": version.label},
            messages.SUCCESS,
        )
        return None


class ActivationReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=Activation.REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        label=_("Reason"),
        help_text=_("Why this version should serve from now on; kept in the activation history."),
    )


def _number(value):
    return "—" if value is None else f"{value:,.2f}"


def _percent(value):
    return "—" if value is None else f"{value * 100:.2f}%"


@admin.register(Activation)
class ActivationAdmin(ReadOnlyAdmin):
    """Who activated which version, when, through which door and why: append-only."""

    list_display = ["activated_at", "version", "previous", "door", "user", "reason"]
    list_filter = ["door", "version"]
    list_select_related = ["version", "previous", "user"]
    date_hierarchy = "activated_at"


class OutcomeForm(forms.ModelForm):
    """Recording a real outcome by hand: checked by the same service as the API and the import."""

    # A count as every door reads one (predictor.counts), not Django's IntegerField's reading.
    views = CountField(
        minimum=0, maximum=services.OUTCOME_VIEWS_MAX, label=capfirst(_("real views"))
    )

    class Meta:
        model = Outcome
        fields = ["prediction", "views", "note"]

    def clean(self):
        cleaned = super().clean()
        prediction, views = cleaned.get("prediction"), cleaned.get("views")
        if prediction is not None and views is not None:
            _, problems = services.check_outcomes([services.OutcomeItem(prediction.pk, views)])
            if problems:
                raise forms.ValidationError(problems[0].sentence)
        return cleaned


@admin.register(Outcome)
class OutcomeAdmin(ReadOnlyAdmin):
    """Real outcomes: added by whoever may record them, never changed (a correction is a newer
    outcome, which supersedes the earlier one without erasing it)."""

    form = OutcomeForm
    list_display = ["id", "prediction", "views", "recorded_at", "source", "user", "note"]
    list_filter = ["source", "recorded_at"]
    search_fields = ["prediction__id", "note"]
    raw_id_fields = ["prediction"]
    list_select_related = ["prediction", "user"]
    date_hierarchy = "recorded_at"

    def has_add_permission(self, request):
        return request.user.has_perm("predictor.record_outcome")

    def save_model(self, request, obj, form, change):
        [recorded] = services.record_outcomes(
            [services.OutcomeItem(obj.prediction_id, obj.views)],
            source=Outcome.Source.ADMIN,
            user_id=request.user.pk,
            note=obj.note,
        )
        # So the admin's "added" message, its history entry and redirect name the recorded row.
        obj.pk, obj.source, obj.user_id, obj.recorded_at = (
            recorded.pk,
            recorded.source,
            recorded.user_id,
            recorded.recorded_at,
        )


@admin.register(ThrottledRequestCount)
class ThrottledRequestCountAdmin(ReadOnlyAdmin):
    """Rate-limited requests, per client and minute: who was hammering the API, and when."""

    list_display = ["minute", "scope", "client", "refused"]
    list_filter = ["scope", "minute"]
    search_fields = ["client"]
    date_hierarchy = "minute"

    @admin.display(description=_("requests refused"))
    def refused(self, obj):
        return services.live_count(obj)


@admin.register(AuditSeal)
class AuditSealAdmin(ReadOnlyAdmin):
    """The chain of audit seals, to read; `manage.py verify_audit` checks them."""

    list_display = [
        "number",
        "sealed_at",
        "cutoff",
        "prediction_count",
        "predictions_through_id",
        "outcome_count",
        "outcomes_through_id",
        "digest",
    ]
    date_hierarchy = "sealed_at"
    # The id runs and row hashes (megabytes for a large seal) are for verify_audit, not reading.
    exclude = ["prediction_ids", "prediction_hashes", "outcome_ids", "outcome_hashes"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer(*self.exclude)
