// A changelist on a phone is a card per row (static/css/admin.css): each cell is named by its
// column's heading, copied here into the cell's data-label for the stylesheet to show. The
// headings are the page's own, in the reader's language; without this script the cards still
// read, unlabelled, and nothing scrolls sideways.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("result_list");
  if (table === null) {
    return;
  }
  // A heading's words, without its sort marks (priority numbers), as written rather than as the
  // stylesheet capitalises them.
  const headings = [...table.querySelectorAll("thead th")].map((heading) => {
    const words = heading.querySelector(".text");
    return words === null ? "" : words.textContent.trim();
  });
  for (const row of table.querySelectorAll("tbody tr")) {
    [...row.cells].forEach((cell, index) => {
      if (headings[index]) {
        cell.dataset.label = headings[index];
      }
    });
  }
});
