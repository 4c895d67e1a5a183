"""The admin: where the auditor reviews the prediction history and the operator rolls back."""

import csv
import json

from django import forms
from django.contrib import admin, messages
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import services
from .api.serializers import AuditRecordSerializer
from .models import Activation, ModelVersion, Outcome, PredictionRequest, ThrottledRequestCount


class _Echo:
    """A write-only file-like object, so csv.writer can feed a streaming response row by row."""

    def write(self, value):
        return value


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records nobody may add, change or delete here, superusers included: Django shows
    every field read-only to those who may only view."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PredictionRequest)
class PredictionRequestAdmin(ReadOnlyAdmin):
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
    list_filter = ["channel", "accepted", "model_version", "created_at"]
    search_fields = ["client_ip", "user_agent", "user__username", "batch_id"]
    date_hierarchy = "created_at"
    list_select_related = ["model_version", "user"]
    actions = ["export_csv"]
    show_full_result_count = False

    @admin.action(description=_("Export selected records as CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        # The same fields, in the same shape, as the staff API's audit records.
        serializer = AuditRecordSerializer()
        columns = list(serializer.fields)
        writer = csv.writer(_Echo())

        def cell(value):
            if isinstance(value, dict | list):
                return json.dumps(value, ensure_ascii=False)
            return "" if value is None else value

        def rows():
            # A byte order mark, so that Excel opens the Chinese text as UTF-8.
            yield "\ufeff" + writer.writerow(columns)
            records = queryset.select_related("model_version", "user").iterator(chunk_size=2000)
            for record in records:
                data = serializer.to_representation(record)
                yield writer.writerow([cell(data[column]) for column in columns])

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="predictions-{stamp}.csv"'
        return response


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
