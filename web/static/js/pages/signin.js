// Sign in and sign up. Both keep the token (session.js) and go on to the page the visitor
// asked for, or home.

import { field, h, replace } from '../dom.js';
import { errorText } from '../ui.js';

export function signinPage(ctx) {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, id: 'signin-email' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true, id: 'signin-password' });
  return authForm(ctx, {
    title: 'Sign in',
    lead: 'Welcome back. Sign in to practise speaking English with your tutor.',
    fields: [field('E-mail', email), field('Password', password)],
    submit: 'Sign in',
    busy: 'Signing in…',
    action: () => ctx.session.signIn(email.value.trim(), password.value),
    switchTo: ['New here?', '#/signup', 'Create an account'],
  });
}

export function signupPage(ctx) {
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'name', required: true, maxlength: 200, id: 'signup-name' });
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'email', required: true, id: 'signup-email' });
  const password = h('input', {
    type: 'password', name: 'password', autocomplete: 'new-password', required: true, minlength: 8, maxlength: 72, id: 'signup-password',
  });
  return authForm(ctx, {
    title: 'Create an account',
    lead: 'Talk with an AI tutor that listens and answers out loud — at your level, about what interests you.',
    fields: [field('Your name', name), field('E-mail', email), field('Password', password, 'At least 8 characters.')],
    submit: 'Create account',
    busy: 'Creating your account…',
    action: () => ctx.session.signUp(name.value.trim(), email.value.trim(), password.value),
    switchTo: ['Already have an account?', '#/signin', 'Sign in'],
  });
}

function authForm({ root, navigate, afterSignIn }, { title, lead, fields, submit, busy, action, switchTo }) {
  const error = h('div', { class: 'notice notice-error', role: 'alert', id: 'auth-error' });
  const button = h('button', { type: 'submit', class: 'primary big', id: 'auth-submit' }, submit);
  const form = h('form', { class: 'card', novalidate: false }, fields, error, button);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.replaceChildren();
    button.disabled = true;
    button.textContent = busy;
    try {
      await action();
      navigate(afterSignIn(), { replace: true });
    } catch (err) {
      error.textContent = errorText(err);
      button.disabled = false;
      button.textContent = submit;
      form.querySelector('input')?.focus();
    }
  });
  replace(
    root,
    h(
      'section',
      { class: 'auth' },
      h('h1', {}, title),
      h('p', { class: 'lead' }, lead),
      form,
      h('p', { class: 'switch' }, `${switchTo[0]} `, h('a', { href: switchTo[1] }, switchTo[2])),
    ),
  );
  fields[0].querySelector('input').focus();
}
