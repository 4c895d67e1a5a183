"""The pages' filters for numbers and dates: predictor.display's wordings, so a page and `manage.py
predict` say a figure in the same words; and why an answer is what it is (predictor/waterfall.py).
"""

from django import template

from .. import display
from ..waterfall import waterfall_html

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

# {% why_this_number explanation %}: the waterfall under the form's answer.
why_this_number = register.simple_tag(waterfall_html, name="why_this_number")
