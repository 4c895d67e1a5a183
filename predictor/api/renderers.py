"""The browsable API's renderer, in the reader's language.

DRF's own templates translate their landmarks (zh_Hans ships with DRF), but the raw-data form's
labels are written in English in the renderer. Our catalogue holds them ("Media type", "Content"),
so they are said in the active language, which LocaleMiddleware has chosen for the request.
"""

from django.utils.translation import gettext, gettext_noop
from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    def get_raw_data_form(self, data, view, method, request):
        form = super().get_raw_data_form(data, view, method, request)
        if form is not None:
            for field in form.fields.values():  # a copy per form: the class's stay as they are
                field.label = gettext(field.label)
        return form


# The labels DRF gives the raw-data form, marked for makemessages; gettext(field.label) says them.
RAW_DATA_FORM_LABELS = (gettext_noop("Media type"), gettext_noop("Content"))
