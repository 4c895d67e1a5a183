"""Why this number, written for a page: the waterfall of services.explanations as HTML, under the
form's answer (`{% why_this_number %}`, templatetags/viewsite.py) and on an audit row's admin page.

A table a screen reader walks row by row, each change written with its sign; the bars only repeat
the table, so they are hidden from assistive technology, and their direction is their place on
the line, not their colour (static/css/explanation.css). README, "Why this number".

Written here rather than by a template because the form draws it under every answer, and the
request path must cost what it did before: as a template (a loop, a translated sentence per row,
a dozen filtered figures) it took 3,700 function calls per answer, more than half of what the
whole page took before. What does not change from one answer to the next (the heading, the lead
sentence with its starting figure, the captions, each input's sentence with its mean and
coefficient) is written once per version, language and layout and kept; per answer only its own
figures and bars are written. Every sentence is the catalogue's, escaped once when it is kept;
every figure is display's (digits and signs) or a bar's place ("12.50"), which need no escaping.
"""

from functools import lru_cache

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext

from . import display, features
from .services.explanations import Explanation, Waterfall

# Where the figures of an answer go in a sentence kept for every answer: characters of Unicode's
# private use area, which no sentence of the catalogue contains.
SLOT = "\ue000"
SECOND_SLOT = "\ue001"
BAR = (
    '<svg class="waterfall-bar" viewBox="0 0 100 10" preserveAspectRatio="none" width="100%" '
    'height="10" aria-hidden="true" focusable="false"><rect class="{kind}" x="{x}" y="1" '
    'width="{width}" height="8"/><rect class="bar-zero" x="{zero}" y="0" width="0.5" '
    'height="10"/></svg>'
)


def waterfall_html(explanation: Explanation, *, titled_by_page: bool = False) -> SafeString:
    """The explanation's section. `titled_by_page` (the admin, whose field label already says
    "why this number"): no heading of its own, the section still named for assistive
    technology."""
    language = get_language()
    figures = display.Figures()  # the answer's figures, the language's layout looked up once
    parts = [_opening(language, titled_by_page)]
    shown = explanation.shown
    if shown is None:
        parts.append(f'<p class="explanation-not-linear">{escape(explanation.not_linear)}</p>')
    else:
        parts.append(_table(language, figures, shown))
        if shown.from_average:
            parts.append(_from_nothing(language, figures, explanation.from_intercept))
    parts.append("</section>")
    return mark_safe("".join(parts))


def _table(language: str, figures: display.Figures, waterfall: Waterfall) -> str:
    chart = waterfall.chart
    zero = chart.zero
    frame = _frame(language, waterfall.from_average, waterfall.start)
    rows = [
        frame,
        BAR.format(kind="bar-start", x=chart.start.x, width=chart.start.width, zero=zero),
        "</td></tr>",
    ]
    for row in chart.rows:
        step = row.step
        if step.is_floor:
            label = _floor_step(language)
        else:
            label = _step_label(
                language, waterfall.from_average, step.feature.name, step.mean, step.coefficient
            ).replace(SLOT, figures.count(step.value))
        kind = "bar-down" if step.amount < 0 else "bar-up"
        rows.append(
            f'<tr class="waterfall-step"><th scope="row">{label}</th>'
            f'<td class="waterfall-change">{figures.signed(step.amount)}</td>'
            f"<td>{figures.decimal(step.total, 2)}"
            f"{BAR.format(kind=kind, x=row.bar.x, width=row.bar.width, zero=zero)}</td></tr>"
        )
    rows.append(
        f'<tr class="waterfall-answer"><th scope="row">{_answer(language)}</th><td></td>'
        f"<td>{figures.decimal(waterfall.answer, 2)}"
        f"{BAR.format(kind='bar-answer', x=chart.answer.x, width=chart.answer.width, zero=zero)}"
        "</td></tr></tbody></table>"
    )
    return "".join(rows)


def _from_nothing(language: str, figures: display.Figures, waterfall: Waterfall) -> str:
    """The same answer counted from the intercept, as a list under the table."""
    items = []
    for step in waterfall.steps:
        amount = figures.signed(step.amount)
        if step.is_floor:
            items.append(_from_nothing_floor(language).replace(SLOT, amount))
        else:
            sentence = _from_nothing_step(language, step.feature.name, step.coefficient)
            items.append(
                sentence.replace(SLOT, amount).replace(SECOND_SLOT, figures.count(step.value))
            )
    items.append(_from_nothing_answer(language).replace(SLOT, figures.decimal(waterfall.answer, 2)))
    return (
        _from_nothing_start(language, waterfall.start)
        + "".join(f"<li>{item}</li>" for item in items)
        + "</ul>"
    )


# --- What stays the same from one answer to the next, kept per language ------------------------
# Keyed by the language and by figures (a version's start, mean and coefficient), never by a
# version: the same figures read the same whichever version has them, and the few versions a
# process serves fill a few entries each.


@lru_cache(maxsize=8)
def _opening(language: str, titled_by_page: bool) -> str:
    title = escape(gettext("Why this number"))
    if titled_by_page:
        return f'<section class="explanation" aria-label="{title}">'
    return (
        '<section class="explanation" aria-labelledby="why-this-number">'
        f'<h2 id="why-this-number">{title}</h2>'
    )


@lru_cache(maxsize=64)
def _frame(language: str, from_average: bool, start: float) -> str:
    """The lead sentence, the table's caption and header, and its first row up to the bar."""
    figure = display.decimal(start, 2)
    if from_average:
        lead = gettext(
            "The model starts from the average prediction, %(start)s views: its answer for an "
            "article with the average likes and shares of the articles it learned from. Each row "
            "adds views (+) or takes them away (−) because this article has more or fewer likes "
            "or shares than that average. The last row is the answer."
        )
        first = gettext("Average prediction")
    else:
        lead = gettext(
            "The model starts from %(start)s views, its figure for an article with no likes and "
            "no shares. Each row adds (+) or takes away (−) the views one input brings: its "
            "value times the views the model counts for each one. The last row is the answer."
        )
        first = gettext("Starting figure (no likes, no shares)")
    caption = gettext("How the answer adds up, step by step (views, to the cent)")
    headers = (gettext("Step"), gettext("Change"), gettext("Views so far"))
    return (
        f'<p class="explanation-lead">{escape(lead % {"start": figure})}</p>'
        f'<table class="waterfall"><caption>{escape(caption)}</caption><thead><tr>'
        + "".join(f'<th scope="col">{escape(header)}</th>' for header in headers)
        + f'</tr></thead><tbody><tr class="waterfall-start"><th scope="row">{escape(first)}</th>'
        f"<td></td><td>{figure}"
    )


@lru_cache(maxsize=64)
def _step_label(language: str, from_average: bool, name: str, mean, coefficient) -> str:
    """An input's row, its value left as SLOT."""
    named = {
        "feature": features.BY_NAME[name].title,
        "value": SLOT,
        "coefficient": display.coefficient(coefficient),
    }
    if from_average:
        sentence = gettext("%(feature)s: %(value)s (average %(mean)s), %(coefficient)s views each")
        named["mean"] = display.decimal(mean, 2)
    else:
        sentence = gettext("%(feature)s: %(value)s × %(coefficient)s views each")
    return escape(sentence % named)


@lru_cache(maxsize=8)
def _floor_step(language: str) -> str:
    return escape(gettext("Answers below zero are served as 0"))


@lru_cache(maxsize=8)
def _answer(language: str) -> str:
    return escape(gettext("Answer"))


@lru_cache(maxsize=64)
def _from_nothing_start(language: str, start: float) -> str:
    """The list's lead, its opening and its first item: the intercept."""
    lead = escape(gettext("Counted from nothing instead, the same answer:"))
    first = gettext("%(start)s views for an article with no likes and no shares") % {
        "start": display.decimal(start, 2)
    }
    return (
        f'<p class="explanation-other">{lead}</p><ul class="explanation-other">'
        f"<li>{escape(first)}</li>"
    )


@lru_cache(maxsize=8)
def _from_nothing_floor(language: str) -> str:
    return escape(gettext("%(amount)s: answers below zero are served as 0") % {"amount": SLOT})


@lru_cache(maxsize=64)
def _from_nothing_step(language: str, name: str, coefficient) -> str:
    """An input's part counted from nothing, its amount left as SLOT and its value as
    SECOND_SLOT (a language may name them in either order)."""
    sentence = gettext("%(amount)s for %(value)s %(feature)s × %(coefficient)s")
    return escape(
        sentence
        % {
            "amount": SLOT,
            "value": SECOND_SLOT,
            "feature": features.BY_NAME[name].title,
            "coefficient": display.coefficient(coefficient),
        }
    )


@lru_cache(maxsize=8)
def _from_nothing_answer(language: str) -> str:
    return escape(gettext("= %(answer)s views") % {"answer": SLOT})
