// Small DOM helpers. Pages build their markup with h(), never with innerHTML, so text from the
// server cannot inject markup.

const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'textContent', 'htmlFor', 'indeterminate']);

/**
 * h creates an element: h('button', {class: 'primary', onclick: fn}, 'Save').
 * Attributes: class, dataset (object), style (object), on* (listeners), properties in PROPS,
 * anything else as an attribute (true → empty attribute; null, undefined and false are left out).
 * Children: nodes, strings, numbers, arrays of them; null and false are skipped.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'style' && typeof value === 'object') Object.assign(el.style, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (PROPS.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** append adds children (see h) to el. */
export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** replace swaps el's children for children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let uid = 0;
/** id returns a unique element id with prefix, for label/aria wiring. */
export function id(prefix = 'el') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/**
 * field builds a labelled form control: a wrapper with a <label>, the control and an optional
 * hint that the control references with aria-describedby.
 */
export function field(label, control, hint) {
  control.id ||= id('f');
  const wrap = h('div', { class: 'field' }, h('label', { htmlFor: control.id }, label), control);
  if (hint) {
    const hintEl = h('span', { class: 'hint', id: id('hint') }, hint);
    control.setAttribute('aria-describedby', hintEl.id);
    wrap.append(hintEl);
  }
  return wrap;
}

/**
 * cssColor resolves a CSS colour (such as "var(--accent)") to an rgb() string, for canvas
 * drawing: custom properties holding light-dark() are only resolved on a real property.
 */
export function cssColor(value, scope = document.body) {
  const probe = h('span', { style: { color: value, display: 'none' } });
  scope.append(probe);
  const color = getComputedStyle(probe).color;
  probe.remove();
  return color;
}
