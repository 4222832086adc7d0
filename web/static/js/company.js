// A learner and their company: joining with the code the company gave them (they become a
// company learner and are sold its plans) and leaving it. Used by the plans and home pages.

import { field, h, replace } from './dom.js';
import { announce, confirm, errorText, openDialog, toast } from './ui.js';

/** joinError says why a code was refused, and what to do, for people. */
export function joinError(err) {
  switch (err.code) {
    case 'invalid_code':
      return ['That code was not found', 'Check it with your company and type it again. Letters and digits count; capitals, spaces and hyphens do not.'];
    case 'code_expired':
      return ['That code no longer works', 'It has expired or your company turned it off. Ask your company for a new code.'];
    case 'company_full':
      return ['Your company has no free places', 'Every seat of your company is taken. Ask the person who manages aitutor at your company to free a seat or add more.'];
    case 'already_in_company':
      return ['You already belong to a company', 'Leave that company first (on your home page), then enter the new code.'];
    case 'rate_limited':
      return ['Too many attempts', /tomorrow/i.test(err.message) ? 'Too many wrong codes today. Check the code with your company and try again tomorrow.' : 'Wait a minute, then try again.'];
    case 'bad_request':
      return ['That is not a code', 'Enter the code your company gave you: 8 to 32 letters and digits.'];
    default:
      return ['The code could not be checked', `${errorText(err)} Nothing changed; try again.`];
  }
}

/**
 * joinCompanyDialog asks for a company code and joins the company (POST /api/companies/join).
 * Refusals are shown in the dialog, which stays open. It resolves with {company, user} once
 * joined (the session's user is refreshed), or null when dismissed.
 */
export async function joinCompanyDialog({ api, session }) {
  const input = h('input', {
    type: 'text', id: 'company-code', name: 'code', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', maxlength: 64, required: true,
  });
  const error = h('div', { id: 'company-code-error', role: 'alert' });
  const body = h(
    'div',
    {},
    h('p', {}, 'If your company pays for your English practice, it gave you a code. With it you join your company: you then see your company’s plans, and your company can give you memberships.'),
    field('Company code', input, 'For example 7KQM-X2PA-HRT9. Capitals, spaces and hyphens do not matter.'),
    error,
  );
  input.setAttribute('aria-describedby', `${input.getAttribute('aria-describedby')} company-code-error`);
  const { result } = openDialog({
    title: 'Join your company',
    testid: 'join-company',
    body,
    focus: input,
    actions: [
      { label: 'Cancel', value: null },
      { label: 'Join', value: 'join', kind: 'primary', submit: true },
    ],
    onSubmit: async () => {
      const code = input.value.trim();
      if (!code) {
        showError({ code: 'bad_request', message: '' });
        return undefined;
      }
      try {
        const res = await api.post('/companies/join', { code });
        await session.refresh();
        return res;
      } catch (err) {
        if (err.name === 'AbortError') return undefined;
        showError(err);
        return undefined;
      }
    },
  });
  function showError(err) {
    const [title, text] = joinError(err);
    input.setAttribute('aria-invalid', 'true');
    replace(error, h('div', { class: 'notice notice-error', dataset: { code: err.code } }, h('p', {}, h('strong', {}, `${title}. `), text)));
    input.focus();
    input.select();
  }
  input.addEventListener('input', () => input.removeAttribute('aria-invalid'));
  const joined = await result;
  if (joined) {
    toast(`You joined ${joined.company.name}. Your company’s plans are on the Plans page.`, { kind: 'ok' });
    announce(`You joined ${joined.company.name}.`);
  }
  return joined;
}

/**
 * leaveCompany asks, then leaves the learner's company (POST /api/companies/leave). It
 * resolves true once left (the session's user is refreshed).
 */
export async function leaveCompany({ api, session }) {
  const name = session.user?.company?.name ?? 'your company';
  const ok = await confirm({
    title: `Leave ${name}?`,
    testid: 'confirm-leave-company',
    body: h(
      'div',
      {},
      h('p', {}, `You become a personal learner again: the Plans page then shows personal plans instead of ${name}’s, and your seat is freed.`),
      h('p', {}, `Memberships you got through ${name} stay usable until they end. To join again you need a code from ${name}.`),
    ),
    confirmLabel: 'Leave company',
    danger: true,
  });
  if (!ok) return false;
  try {
    await api.post('/companies/leave');
    await session.refresh();
    toast(`You left ${name}.`, { kind: 'ok' });
    return true;
  } catch (err) {
    if (err.name !== 'AbortError') toast(`Could not leave ${name}: ${errorText(err)}`, { kind: 'error' });
    return false;
  }
}
