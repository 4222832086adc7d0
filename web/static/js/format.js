// Formatting of prices, dates and quotas for people. Prices travel as integer minor units
// (cents) with an ISO 4217 currency; the number of minor digits depends on the currency.

const locale = undefined; // the browser's

/** minorDigits is the number of minor-unit digits of currency (2 for USD, 0 for JPY). */
export function minorDigits(currency) {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

/** formatPrice formats an integer amount of minor units: formatPrice(1999, 'USD') → "$19.99". */
export function formatPrice(minor, currency = 'USD') {
  const digits = minorDigits(currency);
  const major = minor / 10 ** digits;
  try {
    return new Intl.NumberFormat(locale, { style: 'currency', currency }).format(major);
  } catch {
    return `${major.toFixed(digits)} ${currency}`;
  }
}

/**
 * parsePrice reads a price typed in major units ("19.99", "19,99", "20") and returns integer
 * minor units, exactly (no floating point); it throws an Error with a message for people.
 */
export function parsePrice(text, currency = 'USD') {
  const digits = minorDigits(currency);
  const m = /^\s*(\d{1,12})(?:[.,](\d*))?\s*$/.exec(text);
  if (!m) throw new Error('Enter the price as a number, for example 19.99.');
  const frac = m[2] ?? '';
  if (frac.length > digits) {
    throw new Error(digits === 0 ? `${currency} has no minor units: enter a whole number.` : `Use at most ${digits} decimals for ${currency}.`);
  }
  return Number(m[1]) * 10 ** digits + Number(frac.padEnd(digits, '0') || 0);
}

/** formatDate: "Mar 5, 2026". */
export function formatDate(iso) {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium' }).format(new Date(iso));
}

/** formatDateTime: "Mar 5, 2026, 14:03". */
export function formatDateTime(iso) {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

/** plural: plural(1, 'chat') → "1 chat", plural(3, 'chat') → "3 chats". */
export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/** usesText describes a remaining or included number of uses; null means unlimited. */
export function usesText(n, what = 'chat') {
  return n == null ? `Unlimited ${what}s` : plural(n, what);
}

/**
 * reviewsText describes the conversation reviews a plan includes (analysis uses; null means
 * unlimited): "Unlimited reviews", "No reviews", "1 review", "3 reviews".
 */
export function reviewsText(n) {
  if (n == null) return 'Unlimited reviews';
  if (n === 0) return 'No reviews';
  return plural(n, 'review');
}

/** reviewsLeftText describes the reviews left on a membership: "2 reviews left", "No reviews left". */
export function reviewsLeftText(n) {
  if (n == null) return 'Unlimited reviews';
  if (n === 0) return 'No reviews left';
  return `${plural(n, 'review')} left`;
}

/** CEFR levels with their names, lowest first. */
export const CEFR = {
  A1: 'Beginner',
  A2: 'Elementary',
  B1: 'Intermediate',
  B2: 'Upper intermediate',
  C1: 'Advanced',
  C2: 'Proficient',
};

/** cefrLabel: "B1 · Intermediate". */
export function cefrLabel(level) {
  return CEFR[level] ? `${level} · ${CEFR[level]}` : level || '—';
}

/** The kinds of correction of a review, for people. */
export const CORRECTION_KINDS = {
  grammar: 'Grammar',
  word_choice: 'Word choice',
  pronunciation_likely: 'Pronunciation (likely)',
  register: 'Register (formal or casual)',
};

/** Membership statuses as the API reports them, for people. */
export const STATUS_LABELS = {
  active: 'Active',
  expired: 'Expired',
  revoked: 'Revoked',
  exhausted: 'No chats left',
};

export function statusLabel(status) {
  return STATUS_LABELS[status] ?? status;
}

/** customerTypeLabel: B2C / B2B for people. */
export function customerTypeLabel(type) {
  return type === 'B2B' ? 'Company (B2B)' : 'Personal (B2C)';
}

/** ms formats a latency in milliseconds. */
export function ms(value) {
  return value == null ? '—' : `${Math.round(value)} ms`;
}

/**
 * formatLatency says a latency for people: "850 ms" under a second, else seconds with one
 * decimal ("2.7 s").
 */
export function formatLatency(value) {
  if (value == null) return '—';
  if (value < 1000) return `${Math.round(value)} ms`;
  return `${(value / 1000).toFixed(1)} s`;
}

/** chatsText: "Unlimited chats", "1 chat", "30 chats" (a chat is one answer of the tutor). */
export function chatsText(n) {
  return n == null ? 'Unlimited chats' : plural(n, 'chat');
}

/**
 * membershipUses says what a membership can still pay for: "12 chats left", "Unlimited chats",
 * "No chats left".
 */
export function membershipUses(m) {
  const n = m.remainingChatUses;
  if (n == null) return 'Unlimited chats';
  if (n === 0) return 'No chats left';
  return `${plural(n, 'chat')} left`;
}

/**
 * usableMemberships are the user's memberships that can pay for a chat now (other than
 * exceptId), the most chats left first.
 */
export function usableMemberships(user, exceptId) {
  const left = (m) => (m.remainingChatUses == null ? Infinity : m.remainingChatUses);
  return (user?.memberships ?? []).filter((m) => m.status === 'active' && m.id !== exceptId).sort((a, b) => left(b) - left(a));
}

/**
 * planSummary: "20 chats and 3 reviews for 30 days" (a chat is one answer of the tutor; a
 * review goes through a whole conversation).
 */
export function planSummary(plan) {
  const reviews = reviewsText(plan.analysisUses);
  return `${chatsText(plan.chatUses)} and ${reviews.charAt(0).toLowerCase()}${reviews.slice(1)} for ${plural(plan.durationDays, 'day')}`;
}

/** priceText: "Free" for nothing, else the price in its currency. */
export function priceText(minor, currency) {
  return minor === 0 ? 'Free' : formatPrice(minor, currency);
}
