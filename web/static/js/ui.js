// Shared UI: toasts, screen-reader announcements and modal dialogs with focus management.

import { h, id } from './dom.js';

/** announce says text to screen readers through the page's polite live region. */
export function announce(text) {
  const region = document.getElementById('announcer');
  region.textContent = '';
  // A fresh text node after a tick is announced even when the text repeats.
  setTimeout(() => {
    region.textContent = text;
  }, 30);
}

/**
 * toast shows a short message in the corner (kind: info | ok | error) that goes away after
 * timeout ms (0: stays until closed). Errors are announced assertively.
 */
export function toast(text, { kind = 'info', timeout = 6000 } = {}) {
  const box = document.getElementById('toasts');
  const close = h('button', { type: 'button', 'aria-label': 'Dismiss' }, '×');
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, h('p', {}, text), close);
  const remove = () => el.remove();
  close.addEventListener('click', remove);
  box.append(el);
  if (timeout) setTimeout(remove, timeout);
  return remove;
}

const open = new Set();

/**
 * openDialog shows a modal <dialog> and resolves with the value of the action chosen, or null
 * when it is dismissed (Escape) — unless dismissable is false. Focus moves into the dialog (the
 * element `focus`, else the action marked autofocus, else the first one), stays in it while it
 * is open (a modal dialog makes the rest of the page inert), and returns to where it was when
 * it closes.
 *
 * A dialog with onSubmit is a form: its action marked submit submits it (Enter in a field
 * too), and onSubmit() decides: it resolves with the value to close with, or undefined to
 * stay open (it shows its own errors).
 *
 * @param {{title: string, body?: Node|string|Array, actions: Array<{label: string, value: any,
 *   kind?: string, autofocus?: boolean, href?: string, submit?: boolean}>, dismissable?: boolean,
 *   kind?: string, testid?: string, focus?: HTMLElement, onSubmit?: () => Promise<any>}} opts
 * @returns {{result: Promise<any>, close: (value?: any) => void, dialog: HTMLDialogElement}}
 */
export function openDialog({ title, body, actions, dismissable = true, kind, testid, focus, onSubmit }) {
  const titleId = id('dlg-title');
  const bodyId = id('dlg-body');
  const opener = document.activeElement;
  const buttons = actions.map((a) =>
    a.href
      ? h('a', { class: `button ${a.kind ?? ''}`, href: a.href, dataset: { value: String(a.value) } }, a.label)
      : h('button', { type: a.submit && onSubmit ? 'submit' : 'button', class: a.kind ?? '', dataset: { value: String(a.value) } }, a.label),
  );
  const content = [
    h('div', { class: 'dialog-body' }, h('h2', { id: titleId }, title), h('div', { id: bodyId }, typeof body === 'string' ? h('p', {}, body) : body)),
    h('div', { class: 'dialog-actions' }, buttons),
  ];
  const form = onSubmit ? h('form', { novalidate: true }, content) : null;
  const dialog = h(
    'dialog',
    { 'aria-labelledby': titleId, 'aria-describedby': bodyId, class: kind ? `dialog-${kind}` : null, dataset: { testid } },
    form ?? content,
  );
  let settle;
  const result = new Promise((resolve) => {
    settle = resolve;
  });
  let done = false;
  const close = (value = null) => {
    if (done) return;
    done = true;
    open.delete(close);
    if (dialog.open) dialog.close();
    dialog.remove();
    if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
    settle(value);
  };
  buttons.forEach((b, i) => {
    if (!(actions[i].submit && onSubmit)) b.addEventListener('click', () => close(actions[i].value));
  });
  if (form) {
    let busy = false;
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (busy) return;
      busy = true;
      buttons.forEach((b) => b.setAttribute('aria-disabled', 'true'));
      try {
        const value = await onSubmit();
        if (value !== undefined) close(value);
      } finally {
        busy = false;
        buttons.forEach((b) => b.removeAttribute('aria-disabled'));
      }
    });
  }
  dialog.addEventListener('cancel', (e) => {
    e.preventDefault();
    if (dismissable) close(null);
  });
  document.body.append(dialog);
  dialog.showModal();
  const first = focus ?? buttons[actions.findIndex((a) => a.autofocus)] ?? buttons[0];
  first?.focus();
  open.add(close);
  return { result, close, dialog };
}

/** confirm asks a yes/no question; it resolves true only when confirmed. */
export async function confirm({ title, body, confirmLabel = 'Confirm', cancelLabel = 'Cancel', danger = false, testid }) {
  const { result } = openDialog({
    title,
    body,
    testid,
    actions: [
      { label: cancelLabel, value: false },
      { label: confirmLabel, value: true, kind: danger ? 'danger' : 'primary', autofocus: !danger },
    ],
  });
  return (await result) === true;
}

/** closeDialogs closes every open dialog (when the page changes). */
export function closeDialogs() {
  for (const close of [...open]) close(null);
}

/** errorText is the message of an error for people. */
export function errorText(err) {
  if (!err) return 'Something went wrong.';
  return err.message || String(err);
}
