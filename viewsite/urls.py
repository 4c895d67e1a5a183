import functools

from csp.constants import NONCE
from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, reverse_lazy
from django.utils.module_loading import import_string
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt


def loaded_when_asked(view_class: str, **initkwargs):
    """The view `view_class` names (with `initkwargs`), imported on its first request.

    drf-spectacular's views import its schema generator (predictor.api.schema says what that
    costs), which a worker that never serves the schema or its pages need not hold.
    """

    @functools.cache
    def loaded():
        return import_string(view_class).as_view(**initkwargs)

    # As DRF exempts its views (as_view): a session's CSRF token is checked by DRF, which knows
    # the method and the authentication.
    @csrf_exempt
    def view(request, *args, **kwargs):
        return loaded()(request, *args, **kwargs)

    return view


urlpatterns = [
    path("", include("predictor.urls")),
    path("admin/", admin.site.urls),
    # set_language: the page's language switch posts here; the choice is kept in a cookie.
    path("i18n/", include("django.conf.urls.i18n")),
]
if settings.VIEWSITE_API_SCHEMA:
    # The docs pages run no inline script (templates/api_docs/ says how). Redoc's run-time
    # <style> elements carry this response's nonce; the one its bundle inserts while loading
    # (perfect-scrollbar's, in Redoc 2.5.4 of drf-spectacular-sidecar 2026.10.1) comes before any
    # nonce can be given, so its text is allowed by hash, as is the empty element it starts as.
    # If an upgrade changes it, test_browser_api_docs.py fails and Chromium names the new hash.
    redoc_styles = csp_update(
        {
            "style-src": [
                NONCE,
                "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
                "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
            ]
        }
    )
    # Swagger UI and Redoc speak English only: they are given the English schema, so that what they
    # show is in the one language their container declares (templates/api_docs/).
    english_schema = format_lazy("{}?lang=en", reverse_lazy("schema"))
    urlpatterns += [
        path(
            "api/schema/",
            loaded_when_asked("drf_spectacular.views.SpectacularAPIView"),
            name="schema",
        ),
        path(
            "api/docs/",
            loaded_when_asked(
                "drf_spectacular.views.SpectacularSwaggerSplitView",
                template_name="api_docs/swagger_ui.html",
                url=english_schema,
            ),
            name="api-docs",
        ),
        path(
            "api/redoc/",
            redoc_styles(
                loaded_when_asked(
                    "drf_spectacular.views.SpectacularRedocView",
                    template_name="api_docs/redoc.html",
                    url=english_schema,
                )
            ),
            name="api-redoc",
        ),
    ]

admin.site.site_header = _("viewsite administration")
admin.site.site_title = "viewsite"
# The admin's left-hand list of every model repeats its home page and takes a quarter of a 1280 px
# screen from the prediction history's columns; the breadcrumbs lead back to it.
admin.site.enable_nav_sidebar = False

handler400 = "predictor.views.bad_request"
handler403 = "predictor.views.permission_denied"
handler404 = "predictor.views.page_not_found"
handler500 = "predictor.views.server_error"
