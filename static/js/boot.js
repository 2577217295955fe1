// Runs before the page paints (classic script in <head>): the theme and the
// remembered language, so that nothing flashes. No network, no modules.
(function () {
  var d = document.documentElement;
  try {
    var theme = localStorage.getItem('proclab.theme');
    if (theme === 'dark' || theme === 'light') d.setAttribute('data-theme', theme);
    var lang = localStorage.getItem('proclab.lang');
    if (lang === 'en' || lang === 'zh') d.setAttribute('data-lang', lang);
  } catch (e) {
    /* storage disabled */
  }
  if (!d.getAttribute('data-theme')) d.setAttribute('data-theme', 'light');
  if (!d.getAttribute('data-lang')) d.setAttribute('data-lang', (d.getAttribute('lang') || 'en').slice(0, 2) === 'zh' ? 'zh' : 'en');
})();
