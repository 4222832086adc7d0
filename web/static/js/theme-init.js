// Applies the theme remembered in localStorage before the page is painted, so that a dark
// theme does not flash light on load. js/theme.js owns the toggle; both use the same key.
(function () {
  try {
    var theme = localStorage.getItem('aitutor.theme');
    if (theme === 'light' || theme === 'dark') document.documentElement.dataset.theme = theme;
  } catch (e) {
    // Storage can be disabled; the system preference applies then.
  }
})();
