// Finishes the browsable API's page (templates/rest_framework/api.html) where DRF's template has
// no block to fill, from what the page's meta elements say in the reader's language.
// - Its language: DRF's page opens with a bare <html>, outside any block. Screen readers then read
//   it in the right voice, and a browser offers no translation of a page already in its reader's
//   language.
// - The name of the GET button's format menu: DRF draws it as a caret alone, named by its `title`,
//   which Bootstrap's tooltip takes away when the page is ready; a screen reader would announce
//   "button" and nothing more.
// In a block: DRF's form (ajax-form.js) writes its answer over this document, and this script runs
// again in the same global scope, where a second top-level `const` of a name is an error.
"use strict";

{
  const said = (name) => document.querySelector(`meta[name="${name}"]`).content;

  document.documentElement.lang = said("page-language");
  for (const menu of document.querySelectorAll("#get-form .dropdown-toggle")) {
    menu.setAttribute("aria-label", said("format-menu-label"));
  }
}
