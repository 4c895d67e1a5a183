// Names the browsable API page's language (templates/rest_framework/api.html): DRF's page opens
// with a bare <html>, outside any block a template may fill, so its `lang` is set here from the
// meta element the page carries. Screen readers then read it in the right voice, and a browser
// offers no translation of a page already in its reader's language.
"use strict";

document.documentElement.lang = document.querySelector('meta[name="page-language"]').content;
