// Starts Redoc on /api/redoc/ (templates/api_docs/redoc.html): a file, as the CSP allows no
// inline script.
"use strict";

// Redoc inserts its styles as <style> elements at run time; its `nonce` option gives them this
// response's CSP nonce, which the page carries on <meta property="csp-nonce">. It is read from the
// element's `nonce` property: browsers blank the attribute itself so that no script can read it
// from the markup (a nonce attribute on Redoc's container would reach Redoc as that blank).
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
