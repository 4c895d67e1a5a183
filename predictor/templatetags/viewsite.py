"""The pages' filters for numbers: predictor.display's wordings, so a page and `manage.py
predict` say a figure in the same words."""

from django import template

from .. import display

register = template.Library()

about = register.filter("about", display.about)
times_in = register.filter("times_in", display.times_in)
percent = register.filter("percent", display.percent)
