"""The pages' filters for numbers and dates: predictor.display's wordings, so a page and `manage.py
predict` say a figure in the same words."""

from django import template

from .. import display

register = template.Library()

about = register.filter("about", display.about)
coefficient = register.filter("coefficient", display.coefficient)
count = register.filter("count", display.count)
decimal = register.filter("decimal", display.decimal)
milliseconds = register.filter("milliseconds", display.milliseconds)
percent = register.filter("percent", display.percent)
seconds = register.filter("seconds", display.seconds)
signed = register.filter("signed", display.signed)
times_in = register.filter("times_in", display.times_in)
when = register.filter("when", display.when)
