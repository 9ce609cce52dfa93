// Trace page: keep the selected span's row in view inside the scrolling tree (the page itself
// jumps to the selected span's panel).
(function () {
  "use strict";
  var tree = document.querySelector(".trace-tree");
  var row = tree && tree.querySelector(".span-selected");
  if (row) {
    tree.scrollTop = Math.max(0, row.offsetTop - tree.clientHeight / 2);
  }
})();
