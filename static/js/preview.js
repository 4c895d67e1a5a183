// The form's answer as you type: a preview from the API, debounced, never the recorded answer.
// Without JavaScript (or fetch) the form works as before; this only adds the preview line.
// Each preview goes to the API's preview operation (data-api): audited with the channel
// "preview", answered 200, rate-limited apart, and never counted as an answer the model served.
(function () {
  "use strict";
  const form = document.querySelector(".predict-form");
  const preview = document.getElementById("preview");
  if (!form || !preview || !window.fetch || !window.AbortController) {
    return;
  }
  const fields = ["likes", "shares"].map(function (name) { return form.elements[name]; });
  const csrfToken = form.elements.csrfmiddlewaretoken.value;
  // Grouped by 3 with "," in both languages, whole numbers: as predictor/display.py writes the
  // recorded answer below (its zh_Hans format groups as this locale's does).
  const numbers = new Intl.NumberFormat(document.documentElement.lang, {
    useGrouping: true,
    maximumFractionDigits: 0,
  });
  let timer = null;
  let pending = null;

  // Three significant figures, as the recorded answer's words round them.
  function about(value) {
    if (!value) {
      return numbers.format(0);
    }
    const step = Math.pow(10, Math.max(0, Math.floor(Math.log10(Math.abs(value))) - 2));
    return numbers.format(Math.round(value / step) * step);
  }

  function show(text) {
    preview.textContent = text;
    preview.hidden = text === "";
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (match, name) { return values[name]; });
  }

  function ask() {
    const typed = fields.map(function (field) { return field.value.trim(); });
    if (typed.some(function (value) { return value === ""; })) {
      show("");
      return;
    }
    if (pending) {
      pending.abort();
    }
    pending = new AbortController();
    fetch(preview.dataset.api, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        // The API's words (its extrapolation sentence) in the page's language. A language
        // chosen on the site is in the cookie, which the API reads first.
        "Accept-Language": document.documentElement.lang,
        "X-CSRFToken": csrfToken,
      },
      body: JSON.stringify({ likes: typed[0], shares: typed[1] }),
      signal: pending.signal,
    })
      .then(function (response) {
        return response.json().then(function (body) { return [response.status, body]; });
      })
      .then(function (answer) {
        const status = answer[0];
        const body = answer[1];
        // The API's own sentence for an answer outside the training range, in the page's
        // language: one wording for every door.
        const extrapolation = body.extrapolation ? " " + body.extrapolation : "";
        if (status === 200 && body.interval) {
          show(fill(preview.dataset.interval, {
            views: about(body.views),
            lower: about(body.interval.lower),
            upper: about(body.interval.upper),
          }) + extrapolation);
        } else if (status === 200) {
          show(fill(preview.dataset.plain, { views: about(body.views) }) + extrapolation);
        } else if (status === 400) {
          show(preview.dataset.invalid);
        } else {
          show("");
        }
      })
      .catch(function (error) {
        if (error.name !== "AbortError") {
          show("");
        }
      });
  }

  fields.forEach(function (field) {
    field.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, Number(preview.dataset.delay));
    });
  });
})();
