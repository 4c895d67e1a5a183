"""The admin: where the auditor reviews the prediction history and the operator rolls back."""

import calendar
import ipaddress
import json
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from axes import admin as axes_admin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db import models
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property, lazy
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import display, features, refusals, services
from .forms import CountField
from .models import (
    Activation,
    AuditSeal,
    ModelVersion,
    Outcome,
    PredictionRequest,
    ThrottledRequestCount,
    algorithm_title,
)
from .services import exports, plots
from .waterfall import waterfall_html


class AdminMedia:
    """Every admin page of ours (`Media = AdminMedia`): the stylesheet (links underlined, a list
    laid out as cards on a phone) and the script that names each card's cells by their column."""

    css = {"all": ["css/admin.css", "css/explanation.css"]}
    js = ["js/admin-cell-labels.js"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records nobody may add, change or delete here, superusers included: Django shows
    every field read-only to those who may only view."""

    Media = AdminMedia

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def yes_no(value):
    """A flag as Django's icons show it, said in the reader's language: Django's own icons say
    the Python value ("True") to a screen reader. Unknown (None) is a dash."""
    if value is None:
        return "—"
    return format_html(
        '<img src="{}" alt="{}">',
        static(f"admin/img/icon-{'yes' if value else 'no'}.svg"),
        gettext("Yes") if value else gettext("No"),
    )


def as_code(text):
    """What a program reads rather than a person (a hash, a file or class name, JSON, a user
    agent) in a code element: the same in every language. A dash when there is none."""
    if text is None or text == "":
        return "-"
    return format_html("<code>{}</code>", text)


def stored_json(value):
    """A JSON field as stored, for the auditor: in a pre element, wrapped rather than scrolled."""
    if value is None:
        return "-"
    return format_html('<pre class="stored-json">{}</pre>', json.dumps(value, ensure_ascii=False))


def field_name(model, name):
    """A model field's verbose name, for a display method that shows that field."""
    return lazy(lambda: capfirst(model._meta.get_field(name).verbose_name), str)()


def code_field(model, name):
    """A display method showing the model's field `name` as code, under the field's name."""

    @admin.display(description=field_name(model, name))
    def shown(self, obj):
        return as_code(getattr(obj, name))

    return shown


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
        # Each choice: its parameter (ISO), and its name as the language writes dates.
        chosen = [(first.strftime("%Y"), first.strftime("%Y"))]
        if after - first < timedelta(days=32):  # a month or a day: its days
            chosen.append((first.strftime("%Y-%m"), display.month(first)))
            days = calendar.monthrange(first.year, first.month)[1]
            chosen += [
                (one.isoformat(), display.day(one))
                for one in (first.replace(day=day) for day in range(1, days + 1))
            ]
        else:  # a year: its months
            chosen += [
                (f"{first.year}-{month:02}", display.month(first.replace(month=month)))
                for month in range(1, 13)
            ]
        return chosen

    def queryset(self, request, queryset):
        period = self.period()
        if period is None:
            return queryset
        start, end = (timezone.make_aware(datetime.combine(day, time.min)) for day in period)
        return queryset.filter(created_at__gte=start, created_at__lt=end)


def in_local_time(heading):
    """A column heading that names the time zone of the times below it, so that no cell repeats
    it: "time (Asia/Shanghai)". Lazy: the zone and the language are the request's."""
    return lazy(
        lambda: gettext("%(heading)s (%(zone)s)") % {"heading": heading, "zone": display.zone()},
        str,
    )()


def moment_column(field: str, heading):
    """A list column of a moment, sortable, its zone named once in the heading (in_local_time)."""

    @admin.display(description=in_local_time(heading), ordering=field)
    def column(self, obj):
        return display.when(getattr(obj, field), named=False)

    return column


def moment_field(field: str, label, empty: str = ""):
    """A moment on a record's page, its zone named beside it; `empty` when it has none."""

    @admin.display(description=label)
    def shown(self, obj):
        return display.when(getattr(obj, field)) or empty

    return shown


@admin.register(PredictionRequest)
class PredictionRequestAdmin(ReadOnlyAdmin):
    """The auditor's view of the trail, kept fast at ten million rows (bench/README.md): the
    count is bounded, every filter and search is a range in an index, and the export streams.

    The list reads at 1280 px without scrolling sideways: one column for what was typed, one for
    the answer (or the refusal and its reason), one for the interval, one for who asked. Every
    cell is written from the row and its list_select_related rows: no query per row.
    """

    list_display = [
        "id",
        "created",
        "channel",
        "given",
        "answer",
        "interval",
        "version",
        "latency",
        "client",
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
    # The record's page: figures written for people; the stored JSON (raw input, errors) stays
    # for the auditor, the refusals said again in the reader's words right after it.
    fields = [
        "created_when",
        "channel",
        "was_accepted",
        "raw_input_stored",
        "likes_given",
        "shares_given",
        "views_answered",
        "interval",
        "was_extrapolated",
        "model_version",
        "why_this_number",
        "errors_stored",
        "refused_because",
        "latency",
        "client_ip",
        "user_agent_code",
        "user",
        "batch_id",
        "batch_index",
    ]
    readonly_fields = [
        "created_when",
        "likes_given",
        "shares_given",
        "views_answered",
        "interval",
        "refused_because",
        "latency",
        "was_accepted",
        "was_extrapolated",
        "raw_input_stored",
        "errors_stored",
        "user_agent_code",
        "why_this_number",
    ]

    user_agent_code = code_field(PredictionRequest, "user_agent")

    @admin.display(description=field_name(PredictionRequest, "accepted"))
    def was_accepted(self, obj):
        return yes_no(obj.accepted)

    @admin.display(description=field_name(PredictionRequest, "extrapolated"))
    def was_extrapolated(self, obj):
        return yes_no(obj.extrapolated)

    @admin.display(description=field_name(PredictionRequest, "raw_input"))
    def raw_input_stored(self, obj):
        return stored_json(obj.raw_input)

    @admin.display(description=field_name(PredictionRequest, "errors"))
    def errors_stored(self, obj):
        return stored_json(obj.errors)

    created = moment_column("created_at", _("time"))

    created_when = moment_field("created_at", _("created at"))

    @admin.display(description=_("likes / shares"))
    def given(self, obj):
        """The input as the model read it, or, for a refusal, as it was typed."""
        if obj.accepted:
            return f"{display.count(obj.likes)} / {display.count(obj.shares)}"
        return typed(obj.raw_input)

    @admin.display(description=features.VIEWS.title)
    def answer(self, obj):
        """The answer served; under it, the figure the model computed when the answer differs
        (one below zero, served as zero), and whether the input lay outside the training range."""
        if not obj.accepted:
            return format_html(
                '<strong class="refused">{}</strong> <span class="refusal">{}</span>',
                gettext("Refused:"),
                refusal_summary(obj.errors),
            )
        served = services.served_views(obj.views)
        notes = []
        if served != obj.views:
            notes.append(gettext("model computed %(views)s") % {"views": display.count(obj.views)})
        if obj.extrapolated:
            notes.append(gettext("outside the training range"))
        return format_html(
            "{}{}",
            display.count(served),
            format_html_join("", ' <span class="answer-note">{}</span>', ((n,) for n in notes)),
        )

    @admin.display(description=_("interval"))
    def interval(self, obj):
        if obj.views_lower is None or obj.views_upper is None:
            return "-"
        # A narrow column breaks a wide interval after its dash, never inside a number.
        return format_html(
            "{}–<wbr>{}", display.count(obj.views_lower), display.count(obj.views_upper)
        )

    @admin.display(description=_("version"))
    def version(self, obj):
        return obj.model_version.label if obj.model_version_id is not None else "-"

    @admin.display(description=_("latency"))
    def latency(self, obj):
        return display.milliseconds(obj.latency_ms)

    @admin.display(description=_("client"))
    def client(self, obj):
        user = obj.user.get_username() if obj.user_id is not None else None
        who = [(part,) for part in (obj.client_ip, user) if part]
        return format_html_join(mark_safe("<br>"), "{}", who) or "-"

    @admin.display(description=features.LIKES.title)
    def likes_given(self, obj):
        return display.count(obj.likes) or "-"

    @admin.display(description=features.SHARES.title)
    def shares_given(self, obj):
        return display.count(obj.shares) or "-"

    @admin.display(description=_("predicted views"))
    def views_answered(self, obj):
        if obj.views is None:
            return "-"
        served = services.served_views(obj.views)
        if served == obj.views:
            return display.count(served)
        return gettext("%(served)s (the model computed %(computed)s)") % {
            "served": display.count(served),
            "computed": display.count(obj.views),
        }

    @admin.display(description=_("why this number"))
    def why_this_number(self, obj):
        """The answer's parts (the form's waterfall), computed again from the row's input and
        its version's verified parameters: nothing of it is stored. Refused rows have none."""
        if not obj.accepted or obj.model_version_id is None or obj.views is None:
            return "-"
        try:
            explanation = services.explain(obj.model_version, obj.likes, obj.shares)
        except services.ModelUnavailable as error:
            # Files that fail verification are the auditor's news, not a broken page: the
            # operator's detail (which file, which check) after a sentence in their language.
            return gettext("This answer cannot be explained now: %(reason)s") % {"reason": error}
        if explanation.computed != round(obj.views, 2):
            # Not this row's answer: say so rather than explain another figure.
            return gettext(
                "The version's verified parameters now compute %(now)s views for this input, "
                "not the %(kept)s this row keeps, so they do not explain it."
            ) % {
                "now": display.decimal(explanation.computed, 2),
                "kept": display.decimal(obj.views, 2),
            }
        # The field's label is the heading: the section does not repeat it.
        return waterfall_html(explanation, titled_by_page=True)

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


# What a refused row shows of its input in the list: enough to recognise it, bounded.
TYPED_MAX = 16


def typed(raw) -> str:
    """What a refused request carried, as typed: "“abc” / 300" for likes and shares (— for one
    not sent, and any other field named), or the start of anything else it sent."""
    if isinstance(raw, dict) and raw.keys() & set(features.INPUT_NAMES):
        given = " / ".join(
            _typed_value(raw[name]) if name in raw else "—" for name in features.INPUT_NAMES
        )
        others = [
            f"{_bounded(str(name))}={_typed_value(value)}"
            for name, value in raw.items()
            if name not in features.INPUT_NAMES
        ]
        return ", ".join([given, *others])
    if raw is None:
        return "-"
    return _bounded(json.dumps(raw, ensure_ascii=False))


def _typed_value(value) -> str:
    if isinstance(value, str):
        return f"“{_bounded(value)}”"
    return _bounded(json.dumps(value, ensure_ascii=False))


def _bounded(text: str) -> str:
    return text if len(text) <= TYPED_MAX else f"{text[:TYPED_MAX]}…"


def refusal_summary(errors):
    """A row's refusals in one cell, in the reader's language: "likes: “abc” is not a whole
    number." per line, an input named by its title, anything else said without a name."""
    described = refusals.describe_errors(errors)
    if isinstance(described, dict):
        lines = [
            (features.BY_NAME[name].title if name in features.BY_NAME else None, sentence)
            for name, sentences in described.items()
            for sentence in (sentences if isinstance(sentences, list) else [sentences])
        ]
    elif isinstance(described, list):
        lines = [(None, str(sentence)) for sentence in described]
    else:
        lines = [(None, described)] if described else []
    return format_html_join(
        mark_safe("<br>"),
        "{}",
        (
            (
                gettext("%(field)s: %(reason)s") % {"field": name, "reason": reason}
                if name
                else reason,
            )
            for name, reason in lines
        ),
    )


IP_PREFIX = re.compile(r"[0-9]{1,3}(\.[0-9]{0,3}){1,3}|[0-9a-fA-F]{0,4}(:[0-9a-fA-F]{0,4}){1,7}")


def _is_ip_or_prefix(term: str) -> bool:
    return IP_PREFIX.fullmatch(term) is not None


def _is_ip(term: str) -> bool:
    try:
        ipaddress.ip_address(term)
    except ValueError:
        return False
    return True


class AlgorithmFilter(admin.SimpleListFilter):
    """The versions by algorithm, each named for people ("linear regression"), not by its
    `retrain --algorithm` name."""

    title = _("algorithm")
    parameter_name = "algorithm_name"

    def lookups(self, request, model_admin):
        names = ModelVersion.objects.order_by("algorithm_name").values_list("algorithm_name")
        return [(name, algorithm_title(name)) for (name,) in names.distinct()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(algorithm_name=self.value())
        return queryset


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    """Versions come from `manage.py retrain`, which records how they were made; here they are
    reviewed with their live error, and activated by whoever holds the dedicated permission.

    The model card is the column beside the label, and a button on the version's page; the
    version's figures read as tables, the stored JSON behind them being for programs."""

    list_display = [
        "label",
        "card",
        "active",
        "algorithm_used",
        "r2",
        "mae",
        "coverage",
        "live_answers",
        "live_mae",
        "live_mape",
        "live_coverage",
        "live_error",
    ]
    list_filter = ["is_active", AlgorithmFilter]
    actions = ["activate_version"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "card_link",
                    "algorithm_named",
                    "algorithm_class",
                    "active",
                    "activated_when",
                    "created_when",
                ]
            },
        ),
        (_("Fitted parameters"), {"fields": ["parameters_table"]}),
        (_("Quality"), {"fields": ["metrics_table"]}),
        (
            _("Training data"),
            {"fields": ["data_file_name_code", "data_sha256_code", "training_summary_table"]},
        ),
        (
            _("Files and signature"),
            {
                "classes": ["collapse"],
                "fields": [
                    "features_code",
                    "artifact_name_code",
                    "artifact_sha256_code",
                    "serving_name_code",
                    "serving_sha256_code",
                    "plots_table",
                    "signature_code",
                    "signing_key_code",
                    "sklearn_version",
                ],
            },
        ),
    ]
    readonly_fields = [
        "card_link",
        "algorithm_named",
        "algorithm_class",
        "active",
        "activated_when",
        "created_when",
        "parameters_table",
        "metrics_table",
        "data_file_name_code",
        "data_sha256_code",
        "training_summary_table",
        "features_code",
        "artifact_name_code",
        "artifact_sha256_code",
        "serving_name_code",
        "serving_sha256_code",
        "plots_table",
        "signature_code",
        "signing_key_code",
        "sklearn_version",
    ]

    # What programs read, as code: the same in every language.
    data_file_name_code = code_field(ModelVersion, "data_file_name")
    data_sha256_code = code_field(ModelVersion, "data_sha256")
    artifact_name_code = code_field(ModelVersion, "artifact_name")
    artifact_sha256_code = code_field(ModelVersion, "artifact_sha256")
    serving_name_code = code_field(ModelVersion, "serving_name")
    serving_sha256_code = code_field(ModelVersion, "serving_sha256")
    signature_code = code_field(ModelVersion, "signature")
    signing_key_code = code_field(ModelVersion, "signing_key")

    @admin.display(description=field_name(ModelVersion, "features"))
    def features_code(self, obj):
        return as_code(", ".join(obj.features or []))

    @admin.display(description=field_name(ModelVersion, "algorithm_name"))
    def algorithm_named(self, obj):
        """Its name for people, then the name `retrain --algorithm` takes."""
        return format_html(
            "{} (<code>retrain --algorithm {}</code>)",
            algorithm_title(obj.algorithm_name),
            obj.algorithm_name,
        )

    @admin.display(description=field_name(ModelVersion, "algorithm"))
    def algorithm_class(self, obj):
        return as_code(obj.algorithm)

    @admin.display(description=field_name(ModelVersion, "is_active"), ordering="is_active")
    def active(self, obj):
        return yes_no(obj.is_active)

    def get_queryset(self, request):
        return super().get_queryset(request).with_live_error()

    # Not sortable: the list is newest first already, and the sort marks would widen the column.
    @admin.display(description=_("version"))
    def label(self, obj):
        return obj.label

    @admin.display(description=_("model card"))
    def card(self, obj):
        return format_html(
            '<a class="model-card-link" href="{}">{}</a>',
            model_card_url(obj),
            gettext("Model card"),
        )

    @admin.display(description=_("model card"))
    def card_link(self, obj):
        return format_html(
            '<a class="model-card-link" href="{}">{}</a>',
            model_card_url(obj),
            gettext("Model card of %(version)s") % {"version": obj.label},
        )

    @admin.display(description=_("CV R²"), ordering="cv_r2")
    def r2(self, obj):
        return display.decimal(obj.cv_r2, 3)

    @admin.display(description=_("CV MAE"), ordering="cv_mae")
    def mae(self, obj):
        return display.count(obj.cv_mae)

    @admin.display(description=_("CV interval coverage"), ordering="cv_interval_coverage")
    def coverage(self, obj):
        return display.percent(obj.cv_interval_coverage) or "—"

    @admin.display(description=_("algorithm"), ordering="algorithm_name")
    def algorithm_used(self, obj):
        return algorithm_title(obj.algorithm_name)

    @admin.display(description=_("predictions / outcomes"), ordering="live_predictions")
    def live_answers(self, obj):
        """What it served, and how many of those answers have a real outcome to compare with."""
        return format_html(
            '<span class="live-predictions">{}</span> / <span class="live-outcomes">{}</span>',
            display.count(obj.live_predictions),
            display.count(obj.live_outcomes),
        )

    @admin.display(description=_("live MAE"), ordering="live_mae")
    def live_mae(self, obj):
        return display.count(obj.live_mae) or "—"

    @admin.display(description=_("live RMSE"), ordering="live_rmse")
    def live_rmse(self, obj):
        return display.count(obj.live_rmse) or "—"

    @admin.display(description=_("live MAPE"), ordering="live_mape")
    def live_mape(self, obj):
        return display.percent(obj.live_mape) or "—"

    @admin.display(description=_("inside interval"), ordering="live_coverage")
    def live_coverage(self, obj):
        return display.percent(obj.live_coverage) or "—"

    @admin.display(description=_("live error"))
    def live_error(self, obj):
        if obj.live_error_problem:
            return format_html(
                '<strong class="live-error-flag">⚠ {}</strong>', obj.live_error_problem
            )
        return gettext("ok")

    activated_when = moment_field("activated_at", _("activated at"), empty="-")

    created_when = moment_field("created_at", _("created at"))

    @admin.display(description=_("parameters"))
    def parameters_table(self, obj):
        return figures_table(parameter_rows(obj.parameters))

    @admin.display(description=_("metrics"))
    def metrics_table(self, obj):
        return figures_table(metric_rows(obj))

    @admin.display(description=_("training summary"))
    def training_summary_table(self, obj):
        return training_summary_tables(obj.training_summary)

    @admin.display(description=_("plots"))
    def plots_table(self, obj):
        return figures_table(plot_rows(obj.plots))

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
                    "algorithm": algorithm_title(version.algorithm_name),
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


def model_card_url(version) -> str:
    return reverse("predictor:model-card", kwargs={"number": version.number})


def plot_rows(stored: dict):
    """A version's stored plots, each (its title in the reader's language, its file): a plot is
    stored once per language ("residuals-likes-zh-hans"), or once for versions trained before."""
    languages = dict(settings.LANGUAGES)
    for key, plot in (stored or {}).items():
        if not isinstance(plot, dict):
            continue
        name = next((n for n in plots.ORDER if key == n or key.startswith(f"{n}-")), None)
        if name is None:
            yield key, plot.get("name", "")
            continue
        title = plots.words(name).title
        language = key.removeprefix(name).removeprefix("-")
        if language:
            title = f"{title} ({languages.get(language, language)})"
        yield title, plot.get("name", "")


def figures_table(rows):
    """(heading, figure) pairs as a two-column table; "-" when there are none."""
    rows = list(rows)
    if not rows:
        return "-"
    return format_html(
        '<table class="figures"><tbody>{}</tbody></table>',
        format_html_join("", '<tr><th scope="row">{}</th><td>{}</td></tr>', rows),
    )


def parameter_rows(parameters: dict):
    """A version's fitted parameters (services/algorithms.fitted_parameters), as people read
    them: the coefficients per input, the intercept, the equation's scale, then the
    hyperparameters it was built with, each as set."""
    parameters = dict(parameters or {})
    # Written as the card and `retrain` write them (display.coefficient).
    log_scale = parameters.get("scale") == "log1p"
    for name, value in (parameters.pop("coefficients", None) or {}).items():
        feature = features.BY_NAME.get(name)
        yield (
            gettext("coefficient of %(input)s") % {"input": feature.title if feature else name},
            display.coefficient(value, log_scale),
        )
    if "intercept" in parameters:
        yield gettext("intercept"), display.coefficient(parameters.pop("intercept"), log_scale)
    scale = parameters.pop("scale", None)
    if scale is not None:
        yield gettext("the equation predicts"), SCALES.get(scale, scale)
    if "alpha" in parameters:
        yield gettext("regularisation (alpha)"), display.decimal(parameters.pop("alpha"), 3)
    if "iterations" in parameters:
        yield gettext("boosting iterations"), display.count(parameters.pop("iterations"))
    hyperparameters = parameters.pop("hyperparameters", None) or {}
    for name, value in [*hyperparameters.items(), *parameters.items()]:
        yield format_html("<code>{}</code>", name), format_html("<code>{}</code>", as_set(value))


# How a version's coefficients read (services/algorithms.Algorithm.equation_scale).
SCALES = {
    "views": _("views, from likes and shares"),
    "log1p": _("log(1 + views), from log(1 + likes) and log(1 + shares)"),
}


def as_set(value) -> str:
    """A hyperparameter as it was set, in Python's spelling: True, None, 0.05, 'squared_error'."""
    return repr(value)


def metric_rows(version: ModelVersion):
    """How good the version is, measured on held-out folds at retrain time, and its interval."""
    field = ModelVersion._meta.get_field
    figures = [
        ("cv_r2", display.decimal(version.cv_r2, 3)),
        ("cv_mae", display.count(version.cv_mae)),
        ("cv_rmse", display.count(version.cv_rmse)),
        ("cv_folds", display.count(version.cv_folds)),
        ("interval_coverage", display.percent(version.interval_coverage)),
        ("cv_interval_coverage", display.percent(version.cv_interval_coverage)),
        ("interval_relative_half_width", display.percent(version.interval_relative_half_width)),
        ("interval_scale_floor", display.count(version.interval_scale_floor)),
    ]
    for name, figure in figures:
        yield capfirst(field(name).verbose_name), figure or "—"
    yield capfirst(gettext("fit time")), display.seconds(version.fit_seconds) or "—"


def training_summary_tables(summary: dict):
    """Where the training rows came from, then each column's range, median and mean."""
    summary = summary or {}
    sources = [
        (gettext("rows from the data file"), summary.get("file_rows")),
        (gettext("rows from recorded outcomes"), summary.get("outcome_rows")),
        (gettext("rows whose blank shares were filled with likes"), summary.get("rows_filled")),
    ]
    rows = figures_table(
        (heading, display.count(value)) for heading, value in sources if value is not None
    )
    columns = summary.get("columns") or {}
    if not columns:
        return rows
    statistics = ("min", "median", "mean", "max")
    headings = {
        "min": gettext("lowest"),
        "median": gettext("median"),
        "mean": gettext("mean"),
        "max": gettext("highest"),
    }
    return format_html(
        '{}<table class="figures"><thead><tr><td></td>{}</tr></thead><tbody>{}</tbody></table>',
        rows,
        format_html_join("", '<th scope="col">{}</th>', ((headings[s],) for s in statistics)),
        format_html_join(
            "",
            '<tr><th scope="row">{}</th>{}</tr>',
            (
                (
                    features.BY_NAME[name].title if name in features.BY_NAME else name,
                    format_html_join(
                        "",
                        "<td>{}</td>",
                        ((display.count(values.get(s)),) for s in statistics),
                    ),
                )
                for name, values in columns.items()
            ),
        ),
    )


@admin.register(Activation)
class ActivationAdmin(ReadOnlyAdmin):
    """Who activated which version, when, through which door and why: append-only."""

    list_display = ["activated", "version", "previous", "door", "user", "why"]
    list_filter = ["door", "version"]
    list_select_related = ["version", "previous", "user"]
    date_hierarchy = "activated_at"
    # The reason as the reader reads it (a system's reason said from its code); its code and
    # parameters stay on the page for the auditor.
    fields = [
        "version",
        "previous",
        "activated_when",
        "door",
        "user",
        "why",
        "reason_code",
        "reason_parameters",
    ]
    readonly_fields = ["activated_when", "why"]

    @admin.display(description=_("reason"))
    def why(self, obj):
        return obj.reason_html() or "-"

    activated_when = moment_field("activated_at", _("activated at"))

    activated = moment_column("activated_at", _("activated at"))


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
    list_display = ["id", "prediction", "real_views", "recorded", "source", "user", "note"]
    list_filter = ["source", "recorded_at"]
    search_fields = ["prediction__id", "note"]
    raw_id_fields = ["prediction"]
    list_select_related = ["prediction", "user"]
    date_hierarchy = "recorded_at"

    def has_add_permission(self, request):
        return request.user.has_perm("predictor.record_outcome")

    # A recorded outcome's page: its figures written for people. Adding one is the form's.
    def get_fields(self, request, obj=None):
        if obj is None:
            return super().get_fields(request, obj)
        return ["prediction", "real_views", "recorded_when", "source", "user", "note"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["real_views", "recorded_when"]

    recorded_when = moment_field("recorded_at", _("recorded at"))

    @admin.display(description=_("real views"), ordering="views")
    def real_views(self, obj):
        return display.count(obj.views)

    recorded = moment_column("recorded_at", _("recorded at"))

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

    list_display = ["starting", "scope", "client", "refused"]
    list_filter = ["scope", "minute"]
    search_fields = ["client"]
    date_hierarchy = "minute"
    fields = ["starting_when", "scope", "client", "refused"]
    readonly_fields = ["starting_when", "refused"]

    starting_when = moment_field("minute", _("minute"))

    starting = moment_column("minute", _("minute"))

    @admin.display(description=_("requests refused"))
    def refused(self, obj):
        return display.count(services.live_count(obj))


@admin.register(AuditSeal)
class AuditSealAdmin(ReadOnlyAdmin):
    """The chain of audit seals, to read; `manage.py verify_audit` checks them."""

    list_display = [
        "number",
        "sealed",
        "rows_before",
        "predictions",
        "predictions_through_id",
        "outcomes",
        "outcomes_through_id",
        "digest",
    ]
    date_hierarchy = "sealed_at"
    # The id runs and row hashes (megabytes for a large seal) are for verify_audit, not reading.
    exclude = ["prediction_ids", "prediction_hashes", "outcome_ids", "outcome_hashes"]

    fields = [
        "number",
        "sealed_when",
        "cutoff_when",
        "previous_digest",
        "digest",
        "row_encoding",
        "columns",
        "predictions_after_id",
        "predictions_through_id",
        "predictions",
        "outcomes_after_id",
        "outcomes_through_id",
        "outcomes",
    ]
    readonly_fields = ["sealed_when", "cutoff_when", "predictions", "outcomes"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer(*self.exclude)

    sealed_when = moment_field("sealed_at", _("sealed at"))

    cutoff_when = moment_field("cutoff", _("rows written before"))

    sealed = moment_column("sealed_at", _("sealed at"))

    rows_before = moment_column("cutoff", _("rows written before"))

    @admin.display(description=_("prediction requests"))
    def predictions(self, obj):
        return display.count(obj.prediction_count)

    @admin.display(description=_("outcomes"))
    def outcomes(self, obj):
        return display.count(obj.outcome_count)


# django-axes' section, in the reader's language. Axes' words are our catalogue's
# (predictor/borrowed_words.py); what axes leaves untranslatable is said here, through public
# ModelAdmin options in subclasses of axes' admins, registered again through the admin site's
# public API after axes' own registration (axes comes first in INSTALLED_APPS): the "Status"
# heading (a method's name), its rows' titles (its models' __str__, English f-strings), the user
# agent (shown as code, as a program wrote it) and its flags (Django's icons say "True").


@dataclass(frozen=True)
class TitledRow:
    """A row as the action checkbox names it: its key, and its title in the reader's words."""

    pk: object
    title: str

    def __str__(self):
        return self.title


class AxesInOurWords:
    Media = AdminMedia

    def row_title(self, obj) -> str:
        raise NotImplementedError

    def action_checkbox(self, obj):
        return super().action_checkbox(TitledRow(obj.pk, self.row_title(obj)))

    @admin.display(description=_("User Agent"), ordering="user_agent")
    def user_agent_code(self, obj):
        return as_code(obj.user_agent)

    @staticmethod
    def attempt(obj) -> dict:
        return {
            "username": obj.username or "-",
            "time": display.when(obj.attempt_time),
            "ip": obj.ip_address or "-",
        }


def _in_our_words(names):
    """Axes' list columns, with the user agent as code."""
    return ["user_agent_code" if name == "user_agent" else name for name in names]


class AccessAttemptAdmin(AxesInOurWords, axes_admin.AccessAttemptAdmin):
    list_display = _in_our_words(axes_admin.AccessAttemptAdmin.list_display)

    def row_title(self, obj):
        return gettext("Login attempts by %(username)s from %(ip)s, last at %(time)s") % (
            self.attempt(obj)
        )

    @admin.display(description=_("status"))
    def status(self, obj):
        return super().status(obj)


class AccessFailureLogAdmin(AxesInOurWords, axes_admin.AccessFailureLogAdmin):
    list_display = [
        "locked" if name == "locked_out" else name
        for name in _in_our_words(axes_admin.AccessFailureLogAdmin.list_display)
    ]

    def row_title(self, obj):
        if obj.locked_out:
            return gettext("Failed login by %(username)s at %(time)s from %(ip)s, locked out") % (
                self.attempt(obj)
            )
        return gettext("Failed login by %(username)s at %(time)s from %(ip)s") % self.attempt(obj)

    @admin.display(description=_("Access lock out"), ordering="locked_out")
    def locked(self, obj):
        return yes_no(obj.locked_out)


class AccessLogAdmin(AxesInOurWords, axes_admin.AccessLogAdmin):
    list_display = _in_our_words(axes_admin.AccessLogAdmin.list_display)

    def row_title(self, obj):
        return gettext("Login by %(username)s at %(time)s from %(ip)s") % self.attempt(obj)


for axes_model, our_admin in [
    (AccessAttempt, AccessAttemptAdmin),
    (AccessFailureLog, AccessFailureLogAdmin),
    (AccessLog, AccessLogAdmin),
]:
    if admin.site.is_registered(axes_model):
        admin.site.unregister(axes_model)
        admin.site.register(axes_model, our_admin)
