"""The admin: where the auditor reviews the prediction history and the operator rolls back."""

import csv
import json

from django.contrib import admin, messages
from django.http import StreamingHttpResponse
from django.utils import timezone

from . import services
from .api.serializers import AuditRecordSerializer
from .models import ModelVersion, PredictionRequest, ThrottledRequestCount


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

    @admin.action(description="Export selected records as CSV", permissions=["view"])
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
    reviewed, and activated by whoever holds the dedicated permission (a rollback)."""

    list_display = [
        "label",
        "is_active",
        "cv_r2",
        "cv_mae",
        "cv_rmse",
        "training_rows",
        "data_file_name",
        "created_at",
        "activated_at",
    ]
    list_filter = ["is_active", "algorithm"]
    actions = ["activate_version"]

    @admin.display(description="version", ordering="number")
    def label(self, obj):
        return obj.label

    def has_activate_permission(self, request):
        return request.user.has_perm("predictor.activate_modelversion")

    @admin.action(
        description="Activate this version (serve it from now on)", permissions=["activate"]
    )
    def activate_version(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        version = queryset.get()
        try:
            services.activate(version=version)
        except services.ModelUnavailable as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        self.message_user(request, f"Model {version.label} is now active.", messages.SUCCESS)


@admin.register(ThrottledRequestCount)
class ThrottledRequestCountAdmin(ReadOnlyAdmin):
    """Rate-limited requests, per client and minute: who was hammering the API, and when."""

    list_display = ["minute", "scope", "client", "refused"]
    list_filter = ["scope", "minute"]
    search_fields = ["client"]
    date_hierarchy = "minute"

    @admin.display(description="requests refused")
    def refused(self, obj):
        return services.live_count(obj)
