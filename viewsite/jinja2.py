"""The Jinja2 environment of the site's own pages (the form, its error pages).

The form page is what the marketing staff load and post all day; rendered by Django's template
language it cost more than the prediction and its audit row together (bench/README.md). The
admin and DRF's browsable API keep their own Django templates.
"""

from django.template.defaultfilters import floatformat
from django.templatetags.static import static
from django.urls import reverse
from jinja2 import Environment


def url(name: str, *args, **kwargs) -> str:
    return reverse(name, args=args or None, kwargs=kwargs or None)


def environment(**options) -> Environment:
    env = Environment(**options)
    env.globals.update(static=static, url=url)
    env.filters["floatformat"] = floatformat
    return env
