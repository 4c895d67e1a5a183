// Starts Redoc on /api/redoc/ (templates/api_docs/redoc.html): a file, as the CSP allows no
// inline script.
"use strict";

// Redoc inserts its styles as <style> elements at run time; its `nonce` option gives them this
// response's CSP nonce, which the page carries on <meta property="csp-nonce">. It is read from the
// element's `nonce` property: browsers blank the attribute itself so that no script can read it
// from the markup (a nonce attribute on Redoc's container would reach Redoc as that blank).
// Redoc 2.5.4 ends its sidebar with "API docs by Redocly" and an image from Redocly's CDN, which
// no option turns off (drf-spectacular-sidecar 2026.10.1). The CSP (img-src 'self' data:) refuses
// it, and Chromium reports each refusal as a console error. So no image on this page is given that
// address: React sets it as an attribute, then as the property; both are passed over for that one
// address and kept for every other. The link's text stays. If an upgrade changes the address,
// test_browser_api_docs.py sees the refusal again.
const REDOCLY_BADGE = "https://cdn.redoc.ly/redoc/logo-mini.svg";
const imageAttribute = HTMLImageElement.prototype.setAttribute;
HTMLImageElement.prototype.setAttribute = function setAttribute(name, value) {
  if (name !== "src" || value !== REDOCLY_BADGE) {
    imageAttribute.call(this, name, value);
  }
};
const imageSource = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
Object.defineProperty(HTMLImageElement.prototype, "src", {
  ...imageSource,
  set(value) {
    if (value !== REDOCLY_BADGE) {
      imageSource.set.call(this, value);
    }
  },
});

const nonce = document.querySelector('meta[property="csp-nonce"]').nonce;
const container = document.getElementById("redoc-container");
Redoc.init(
  container.dataset.specUrl,
  {
    nonce,
    // Redoc's search runs in a worker made from a blob: URL, which script-src 'self' refuses.
    // Swagger UI at /api/docs/ has a filter; seven operations need little searching.
    disableSearch: true,
  },
  container,
);
