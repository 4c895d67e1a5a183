"""The Jinja2 environment of the site's own pages (the form, its error pages).

The form page is what the marketing staff load and post all day; rendered by Django's template
language it cost more than the prediction and its audit row together (bench/README.md). The
admin and DRF's browsable API keep their own Django templates.
"""

from functools import lru_cache

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template.defaultfilters import floatformat
from django.templatetags.static import static
from django.urls import get_script_prefix, get_urlconf, reverse
from jinja2 import Environment


def url(name: str, *args, **kwargs) -> str:
    if args or kwargs:
        return reverse(name, args=args, kwargs=kwargs)
    # The layout names three fixed URLs on every page: reversing them each time cost a tenth of
    # a form post's CPU. They change only with the URLconf and the script prefix.
    return _fixed_url(name, get_urlconf(), get_script_prefix())


@lru_cache(maxsize=128)
def _fixed_url(name: str, urlconf, script_prefix: str) -> str:
    return reverse(name, urlconf=urlconf)


@receiver(setting_changed)
def _forget_urls(*, setting, **kwargs):
    if setting == "ROOT_URLCONF":
        _fixed_url.cache_clear()


def environment(**options) -> Environment:
    env = Environment(**options)
    env.globals.update(static=static, url=url)
    env.filters["floatformat"] = floatformat
    return env
