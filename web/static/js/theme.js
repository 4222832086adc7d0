// Light and dark theme: the system preference (prefers-color-scheme) unless the user picked
// one with the toggle; the choice is remembered in localStorage (js/theme-init.js applies it
// before the first paint).

const KEY = 'aitutor.theme';
const media = window.matchMedia('(prefers-color-scheme: dark)');

/** current is the theme in effect: "light" or "dark". */
export function current() {
  const chosen = document.documentElement.dataset.theme;
  if (chosen === 'light' || chosen === 'dark') return chosen;
  return media.matches ? 'dark' : 'light';
}

/** set applies and remembers a theme. */
export function set(theme) {
  document.documentElement.dataset.theme = theme;
  try {
    localStorage.setItem(KEY, theme);
  } catch {
    // not remembered; it still applies now
  }
  window.dispatchEvent(new CustomEvent('themechange', { detail: theme }));
}

/**
 * bindToggle wires the toggle button. Its label says what it does: "Dark theme" while the
 * theme is light, "Light theme" while it is dark.
 */
export function bindToggle(button) {
  const label = button.querySelector('.theme-label');
  const render = () => {
    const dark = current() === 'dark';
    label.textContent = dark ? 'Light theme' : 'Dark theme';
    button.setAttribute('aria-label', dark ? 'Switch to the light theme' : 'Switch to the dark theme');
    button.title = dark ? 'Switch to the light theme' : 'Switch to the dark theme';
  };
  button.addEventListener('click', () => {
    set(current() === 'dark' ? 'light' : 'dark');
    render();
  });
  media.addEventListener('change', () => {
    render();
    window.dispatchEvent(new CustomEvent('themechange', { detail: current() }));
  });
  render();
}
