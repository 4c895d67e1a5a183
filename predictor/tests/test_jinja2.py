"""viewsite.jinja2: the `url` global of the site's pages."""

from django.urls import clear_script_prefix, path, set_script_prefix

from viewsite.jinja2 import url


def test_a_fixed_url_follows_the_script_prefix():
    # Behind a proxy that mounts the site under a path, every page must link within it.
    assert url("predictor:predict") == "/"
    set_script_prefix("/viewsite/")
    try:
        assert url("predictor:predict") == "/viewsite/"
        assert url("predictor:model-list") == "/viewsite/api/models/"
    finally:
        clear_script_prefix()
    assert url("predictor:predict") == "/"


urlpatterns = [path("elsewhere/", lambda request: None, name="somewhere")]


def test_a_fixed_url_follows_a_new_urlconf(settings):
    settings.ROOT_URLCONF = __name__
    assert url("somewhere") == "/elsewhere/"


def test_arguments_are_passed_on():
    assert url("predictor:prediction-detail", 7) == "/api/predictions/7/"
    assert url("predictor:model-activate", label="v2") == "/api/models/v2/activate/"
