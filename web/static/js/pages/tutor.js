// The tutor: a live spoken conversation over WebSocket protocol v1.
//
// Microphone → AudioWorklet (16 kHz, 20 ms frames) → echo guard → socket; the server detects
// the learner's turns (hands-free) or the learner holds a key (push-to-talk). The tutor's reply
// arrives as text deltas and PCM frames that play gap-free; when the learner starts speaking
// over it, its audio stops at once and the server is told how much was heard.
//
// The page belongs to one conversation (#/tutor/<membershipId>/<conversationId>, written into
// the address once the server names it): a reload shows its earlier turns and continues it, and
// so does every reconnect after a network drop or a server restart. Messages typed while the
// connection is down wait and are sent once it is back.

import { ApiError } from '../api.js';
import { h, replace } from '../dom.js';
import { formatDateTime, formatLatency, membershipUses, plural, statusLabel, usableMemberships } from '../format.js';
import { reviewControl } from '../review.js';
import { announce, errorText, openDialog } from '../ui.js';
import { CAPTURE_RATE, MicError, startCapture } from '../tutor/capture.js';
import { loadClip } from '../tutor/clips.js';
import * as debug from '../tutor/debug.js';
import { EchoGuard } from '../tutor/echoguard.js';
import { LevelMeter } from '../tutor/meter.js';
import { Player, pcmFromBytes } from '../tutor/playback.js';
import { TutorClient } from '../tutor/protocol.js';
import { NOTES, statusNote, Transcript } from '../tutor/transcript.js';

const PREFS = 'aitutor.tutor';
const DRAFT = 'aitutor.unsent'; // a message that waited for the connection when the page was left
const LEVELS = [
  ['beginner', 'Beginner'],
  ['intermediate', 'Intermediate'],
  ['advanced', 'Advanced'],
];
const MAX_PCM_BUBBLES = 20; // tutor bubbles whose audio stays in memory for replay
const MAX_TEXT = 2000; // characters of a text.input
const BILLING = 'A chat is charged only for an answer whose first sentence you heard: stop or interrupt the tutor before that and it is not charged.';

// Why a membership cannot be used, for the modal.
const BLOCKED = {
  exhausted: {
    title: 'No chats left',
    text: 'This membership has no chats left.',
  },
  expired: {
    title: 'Membership expired',
    text: 'This membership has expired.',
  },
  revoked: {
    title: 'Membership revoked',
    text: 'An administrator revoked this membership.',
  },
  missing: {
    title: 'Membership not found',
    text: 'This membership does not exist or is not yours.',
  },
};
const BLOCKING_ERRORS = {
  quota_exhausted: 'exhausted',
  membership_expired: 'expired',
  membership_revoked: 'revoked',
  membership_not_found: 'missing',
};

/** keepDraft remembers an unsent message for this membership's tutor page (sessionStorage). */
function keepDraft(membershipId, text) {
  try {
    sessionStorage.setItem(DRAFT, JSON.stringify({ membershipId, text }));
  } catch {
    // not kept
  }
}

/** takeDraft returns (and forgets) the unsent message kept for this membership, if any. */
function takeDraft(membershipId) {
  try {
    const d = JSON.parse(sessionStorage.getItem(DRAFT) ?? 'null');
    if (d?.membershipId !== membershipId || !d.text) return null;
    sessionStorage.removeItem(DRAFT);
    return d.text;
  } catch {
    return null;
  }
}

function loadPrefs() {
  try {
    return { mode: 'server', level: 'intermediate', topic: '', ...JSON.parse(localStorage.getItem(PREFS) ?? '{}') };
  } catch {
    return { mode: 'server', level: 'intermediate', topic: '' };
  }
}

export async function tutorPage({ root, params, api, session, navigate, signal }) {
  debug.reset();
  let membership = null;
  let conversationId = params.conversationId ?? null;
  const prefs = loadPrefs();
  const savePrefs = () => {
    try {
      localStorage.setItem(PREFS, JSON.stringify(prefs));
    } catch {
      // not remembered
    }
  };

  // ---- Layout ----
  // The stage fills the screen: heading, start, the transcript, and under it the live controls
  // and the message box, so that nothing needed while talking scrolls away (phones included).
  // The review and the practice settings follow (beside it on wide screens).
  const title = h('h1', {}, 'Conversation');
  const counter = h('span', { class: 'counter', id: 'remaining', 'aria-live': 'polite' }, '…');
  const conn = h('span', { class: 'conn', id: 'conn-state', role: 'status', dataset: { state: 'idle' } }, 'Not connected');
  const banner = h('div', { id: 'tutor-banner' });
  // Enabled once the membership is checked and the page is wired (updateControls).
  const startButton = h('button', { type: 'button', class: 'primary big', id: 'start', disabled: true }, 'Start conversation');
  const startHeading = h('h2', { id: 'start-h' }, 'Ready when you are');
  const startText = h('p', {}, 'Press start, allow the microphone and say hello. The tutor answers out loud: turn your sound on.');
  const newLink = h('p', { class: 'small', hidden: true }, h('a', { href: `#/tutor/${params.membershipId}`, id: 'new-conversation' }, 'Start a new conversation instead'));
  const startPanel = h(
    'section',
    { class: 'card start-panel', id: 'start-panel', 'aria-labelledby': 'start-h' },
    startHeading,
    startText,
    startButton,
    newLink,
  );
  const transcriptEl = h('div', { class: 'transcript', id: 'transcript', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation transcript', tabindex: '0' });
  const messageInput = h('input', { type: 'text', id: 'message', name: 'message', autocomplete: 'off', maxlength: 2000, placeholder: 'Type a message…' });
  const sendButton = h('button', { type: 'submit', id: 'send', class: 'primary' }, 'Send');
  const composer = h('form', { class: 'composer', id: 'composer' }, h('label', { class: 'sr-only', htmlFor: 'message' }, 'Type a message to the tutor instead of speaking'), messageInput, sendButton);

  const modeInputs = {
    server: h('input', { type: 'radio', name: 'mode', value: 'server', id: 'mode-server', checked: prefs.mode !== 'manual' }),
    manual: h('input', { type: 'radio', name: 'mode', value: 'manual', id: 'mode-manual', checked: prefs.mode === 'manual' }),
  };
  const modeSwitch = h(
    'fieldset',
    { class: 'mode-switch' },
    h('legend', {}, 'How you talk'),
    h('label', { htmlFor: 'mode-server' }, modeInputs.server, 'Hands-free'),
    h('label', { htmlFor: 'mode-manual' }, modeInputs.manual, 'Push to talk'),
  );
  const meterCanvas = h('canvas', { class: 'meter', id: 'meter', 'aria-hidden': 'true' });
  const micStatus = h('p', { class: 'mic-status', id: 'mic-status', role: 'status', dataset: { state: 'off' } }, 'Microphone off');
  const pttButton = h('button', { type: 'button', class: 'ptt', id: 'ptt', 'aria-pressed': 'false', 'aria-describedby': 'mode-hint', hidden: true }, 'Hold to talk');
  const micButton = h('button', { type: 'button', id: 'mic-toggle', disabled: true }, 'Mute');
  const stopButton = h('button', { type: 'button', id: 'stop-tutor', 'aria-keyshortcuts': 'Escape', disabled: true }, 'Stop the tutor');
  const modeHint = h('p', { class: 'hint keys', id: 'mode-hint' });
  const dock = h(
    'section',
    { class: 'card dock', id: 'dock', 'aria-label': 'Microphone and messages' },
    h('div', { class: 'dock-level' }, meterCanvas, micStatus),
    h('div', { class: 'dock-controls' }, modeSwitch, h('div', { class: 'dock-buttons' }, micButton, stopButton)),
    pttButton,
    composer,
    modeHint,
  );

  const levelSelect = h('select', { id: 'level', name: 'level' }, LEVELS.map(([v, label]) => h('option', { value: v, selected: prefs.level === v }, label)));
  const topicInput = h('input', { type: 'text', id: 'topic', name: 'topic', maxlength: 120, value: prefs.topic, placeholder: 'travel, job interviews, cooking…' });
  const topicForm = h(
    'form',
    { id: 'topic-form' },
    h(
      'div',
      { class: 'settings-grid' },
      h('div', { class: 'field' }, h('label', { htmlFor: 'level' }, 'Your level'), levelSelect),
      h('div', { class: 'field' }, h('label', { htmlFor: 'topic' }, 'Topic'), topicInput, h('span', { class: 'hint', id: 'topic-hint' }, 'Leave empty to talk about anything.')),
    ),
    h('button', { type: 'submit', id: 'topic-apply' }, 'Apply'),
  );
  topicInput.setAttribute('aria-describedby', 'topic-hint');

  // A review of this conversation, once it has turns (one analysis use of this membership).
  const review = reviewControl({
    api, navigate, signal, conversation: () => conversationId, membership: () => membership, id: 'review-conversation',
  });
  const reviewText = h('p', { class: 'small', id: 'review-card-text' }, 'Once you have said something, get corrections beside your own words, your level, your fluency and what to practise next.');
  const reviewCard = h('section', { class: 'card review-card', id: 'review-card', 'aria-labelledby': 'review-h' }, h('h2', { id: 'review-h' }, 'Review'), reviewText, review.el);

  replace(
    root,
    h(
      'div',
      { class: 'tutor' },
      h(
        'div',
        { class: 'tutor-stage' },
        h('div', { class: 'tutor-head' }, title, counter, conn),
        banner,
        startPanel,
        transcriptEl,
        dock,
      ),
      h(
        'div',
        { class: 'tutor-side' },
        reviewCard,
        h('section', { class: 'card settings-card', 'aria-labelledby': 'settings-h' }, h('h2', { id: 'settings-h' }, 'Practice settings'), topicForm),
        h(
          'section',
          { class: 'card tips-card', 'aria-labelledby': 'tips-h' },
          h('h2', { id: 'tips-h' }, 'Good to know'),
          h('p', { class: 'small', id: 'billing-rule' }, BILLING),
          h('p', { class: 'small' }, 'Headphones help: without them the tutor’s voice can reach your microphone, and the app then only listens for a voice clearly louder than the tutor’s. With them you can interrupt the tutor any time by speaking.'),
          h('p', { class: 'small' }, 'Keyboard: in push-to-talk, hold ', h('kbd', {}, 'Space'), ' while you speak. ', h('kbd', {}, 'Esc'), ' stops the tutor, a replay, or a recording you do not want to send.'),
        ),
      ),
    ),
  );

  // ---- State ----
  const transcript = new Transcript(transcriptEl, { onReplay: (b) => replay(b), onStopReplay: (b) => stopReplay(b) });
  const replaying = new Map(); // replay clip id → its bubble
  const meter = new LevelMeter(meterCanvas);
  const guard = new EchoGuard();
  let blocked = null; // exhausted | expired | revoked | missing
  let dialogAfterReply = false; // the modal waits until the last reply has played
  let audioCtx = null;
  let player = null;
  let capture = null;
  let client = null;
  let started = false;
  let micState = 'off'; // off | starting | on | denied | error
  let muted = false;
  let pttHeld = false;
  let responding = null; // turnId of the reply being produced (response.started … done/cancelled)
  let speaking = false; // the server heard the learner start speaking and not yet stop
  let paused = false; // and then a pause: the server is judging whether the turn ended (speech.paused)
  let remaining;
  let outbox = null; // {text, bubble}: typed while not connected, sent once connected
  let unechoed = null; // {text, bubble}: sent as text.input, not yet answered by transcript.user
  let replayCount = 0;
  let leaving = false;
  const frames = { sent: 0, silenced: 0, held: 0 };
  let silence = new Int16Array(0);
  let uiTimer = 0;
  let countdown = 0;
  let blockedDialog = null;

  debug.probe('frames', () => ({ ...frames }));
  debug.probe('audio', () => (player ? { ...player.stats, playing: player.playing, contextState: audioCtx.state, contextTime: audioCtx.currentTime } : null));
  debug.probe('guard', () => ({ ...guard.stats, coupling: guard.coupling }));
  debug.probe('state', () => ({ connection: client?.state ?? 'idle', mic: micState, mode: prefs.mode, remaining, blocked, responding, muted, pttHeld, conversationId, outbox: outbox?.text ?? null }));

  // ---- Membership ----
  const showRemaining = (n) => {
    remaining = n;
    replace(counter, n == null ? [h('strong', {}, 'Unlimited'), ' chats'] : [h('strong', {}, String(n)), ` ${n === 1 ? 'chat' : 'chats'} left`]);
  };

  /**
   * block turns the microphone and messages off for good because the membership cannot pay
   * for more turns; the modal says why (at once, or once the last reply has played).
   */
  const block = (why, { afterReply = false } = {}) => {
    if (blocked) return;
    blocked = why;
    debug.log('blocked', { why, afterReply });
    pttHeld = false;
    client?.finish(BLOCKED[why].title);
    client?.close();
    if (outbox) {
      outbox.bubble.setNote(`not sent: ${BLOCKED[why].title.toLowerCase()}`);
      outbox = null;
    }
    stopMic();
    updateControls();
    if (afterReply && player?.playing) dialogAfterReply = true;
    else showBlockedDialog();
  };

  /**
   * showBlockedDialog says why this membership cannot go on, and what can: another of the
   * learner's memberships that can pay for chats (a new conversation with it), else the plans.
   */
  const showBlockedDialog = async () => {
    const info = BLOCKED[blocked];
    try {
      await session.refresh(signal); // the other memberships as they are now
    } catch (err) {
      if (err.name === 'AbortError') return;
    }
    if (leaving) return;
    const others = usableMemberships(session.user, params.membershipId);
    blockedDialog?.close();
    const body = h('div', {}, h('p', {}, `${info.text} The microphone and messages are turned off for it.`));
    let actions;
    if (others.length) {
      const [first, ...rest] = others;
      body.append(
        h('p', { id: 'other-membership' }, 'You have another membership that can pay for chats: ', h('strong', {}, first.plan.name), ` (${membershipUses(first)}).`),
        rest.length
          ? h('p', {}, 'Or continue with: ', rest.slice(0, 3).map((m, i) => [i ? ', ' : '', h('a', { href: `#/tutor/${m.id}`, dataset: { membershipId: m.id } }, m.plan.name), ` (${membershipUses(m)})`]), '.')
          : null,
        h('p', { class: 'small muted' }, 'A conversation belongs to the membership that pays for it, so switching starts a new conversation.'),
      );
      actions = [
        { label: 'See plans', value: 'plans', href: '#/plans' },
        { label: `Continue with ${first.plan.name}`, value: 'switch', kind: 'primary', href: `#/tutor/${first.id}`, autofocus: true },
      ];
    } else {
      body.append(h('p', {}, blocked === 'revoked' ? 'Ask the administrator about it, or get a plan of your own.' : 'Get a plan to keep practising.'));
      actions = [
        { label: 'Back home', value: 'home', href: '#/' },
        { label: 'See plans', value: 'plans', kind: 'primary', href: '#/plans', autofocus: true },
      ];
    }
    blockedDialog = openDialog({
      title: info.title,
      testid: 'membership-blocked',
      kind: 'blocked',
      body,
      actions,
    });
    blockedDialog.result.then(() => {
      blockedDialog = null;
    });
  };

  /** checkMembership asks the server about the membership (after a refused connection). */
  const checkMembership = async () => {
    const user = await session.refresh(signal);
    const m = user.memberships.find((x) => x.id === params.membershipId);
    if (!m) return 'missing';
    membership = m;
    showRemaining(m.remainingChatUses);
    return m.status === 'active' ? null : m.status;
  };

  /** showInAddress puts the conversation into the page's address, so that a reload continues it. */
  const showInAddress = () => {
    const want = `#/tutor/${params.membershipId}${conversationId ? `/${conversationId}` : ''}`;
    if (!leaving && window.location.hash !== want) window.history.replaceState(window.history.state, '', want);
  };

  /**
   * loadHistory shows the earlier turns of the conversation in the address. It returns false
   * when the page moved to the conversation's own membership.
   */
  const loadHistory = async () => {
    if (!conversationId) return true;
    try {
      const conv = await api.get(`/conversations/${encodeURIComponent(conversationId)}`, { signal });
      if (conv.membershipId !== params.membershipId) {
        navigate(`/tutor/${conv.membershipId}/${conv.id}`, { replace: true });
        return false;
      }
      if (conv.messages.length) {
        transcript.system(`Earlier in this conversation, from ${formatDateTime(conv.createdAt)}:`);
        transcript.history(conv.messages);
      }
      debug.log('history', { conversationId, turns: conv.messages.length });
      startHeading.textContent = 'Continue this conversation';
      startText.textContent = conv.messages.length
        ? `Press continue and pick up where you left off: the tutor remembers the ${plural(conv.messages.length, 'earlier turn')}.`
        : 'Press continue, allow the microphone, and say hello.';
      startButton.textContent = 'Continue conversation';
      newLink.hidden = false;
    } catch (err) {
      if (err.name === 'AbortError' || err.status === 401) throw err;
      if (err.status === 404 || err.status === 400) {
        conversationId = null;
        showInAddress();
        transcript.system('That conversation was not found, so a new one starts.');
      } else {
        // Not shown, but not lost: the tutor still gets the earlier turns on Start.
        transcript.system(`The earlier turns could not be shown (${errorText(err)}). The conversation still continues when you press continue.`, { kind: 'error' });
        startButton.textContent = 'Continue conversation';
      }
    }
    return true;
  };

  try {
    const why = await checkMembership();
    if (why) {
      title.textContent = membership ? membership.plan.name : 'Conversation';
    } else {
      title.textContent = membership.plan.name;
    }
    if (!(await loadHistory())) return undefined;
    if (why) block(why);
  } catch (err) {
    if (err.name === 'AbortError' || err.status === 401) return undefined;
    throw err;
  }

  // ---- Controls ----
  const canTalk = () => started && !blocked && client?.open;

  function updateControls() {
    const off = blocked != null;
    startButton.disabled = off || started;
    messageInput.disabled = off;
    sendButton.disabled = off; // while not connected, messages wait and go once connected
    for (const input of Object.values(modeInputs)) input.disabled = off;
    const manual = prefs.mode === 'manual';
    pttButton.hidden = !manual;
    // aria-disabled rather than disabled: the button keeps the focus (and Space) while the
    // connection opens.
    pttButton.setAttribute('aria-disabled', String(off || micState !== 'on' || !client?.open));
    micButton.disabled = off || micState !== 'on';
    micButton.textContent = muted ? 'Unmute' : 'Mute';
    micButton.title = muted ? 'Turn the microphone back on' : 'Turn the microphone off for a moment';
    stopButton.disabled = !(player?.playing || responding);
    // A review covers the turns so far: not while a reply is still being written.
    const turns = transcript.users.size > 0 && conversationId != null;
    review.setEnabled(turns && !responding && !unechoed);
    const about = turns
      ? 'Get corrections beside your own words, your level, your fluency and what to practise next, for this conversation so far.'
      : 'Once you have said something, get corrections beside your own words, your level, your fluency and what to practise next.';
    if (reviewText.textContent !== about) reviewText.textContent = about;
    if (modeHint.dataset.mode !== prefs.mode) {
      modeHint.dataset.mode = prefs.mode;
      replace(
        modeHint,
        manual
          ? ['Hold ', h('kbd', {}, 'Space'), ' or the button while you speak; let go to send. ', h('kbd', {}, 'Esc'), ' stops the tutor.']
          : ['Just speak: the tutor answers when you pause, and you can talk over it. ', h('kbd', {}, 'Esc'), ' stops the tutor.'],
      );
    }
    let state = 'off';
    let text = 'Microphone off';
    if (off) text = `Microphone off: ${statusLabel(blocked === 'missing' ? 'unavailable' : blocked).toLowerCase()}`;
    else if (micState === 'starting') text = 'Opening the microphone…';
    else if (micState === 'denied') text = 'Microphone blocked';
    else if (micState === 'error') text = 'Microphone unavailable';
    else if (micState === 'on') {
      if (!client?.open) text = 'Waiting for the connection…';
      else if (muted) text = 'Microphone muted';
      else if (manual && pttHeld) [state, text] = ['speaking', 'Listening… release to send'];
      else if (player?.playing) [state, text] = ['on', 'Tutor speaking — talk to interrupt'];
      else if (responding) [state, text] = ['on', 'Tutor is thinking…'];
      else if (manual) [state, text] = ['on', 'Hold Space or the button to talk'];
      else [state, text] = ['on', 'Listening — speak any time'];
    }
    if (speaking && !off && micState === 'on' && !manual) {
      [state, text] = paused ? ['speaking', 'Listening… go on, or wait for the tutor'] : ['speaking', 'Hearing you…'];
    }
    micStatus.dataset.state = state;
    if (micStatus.textContent !== text) micStatus.textContent = text;
  }

  // ---- Connection ----
  const setConn = (state, text) => {
    conn.dataset.state = state;
    conn.textContent = text;
  };

  const showBanner = (kind, text, action) => {
    replace(
      banner,
      h(
        'div',
        { class: `notice notice-${kind} banner`, role: kind === 'error' ? 'alert' : 'status', id: 'connection-banner' },
        h('p', {}, text),
        action ? h('button', { type: 'button', class: 'primary', id: 'retry', onclick: action.run }, action.label) : null,
      ),
    );
  };

  const onState = (state, info) => {
    debug.log('connection', { state, closeCode: info.code, attempt: info.attempt, resumed: info.resumed, reconnected: info.reconnected, restarting: info.restarting });
    clearInterval(countdown);
    switch (state) {
      case 'connecting':
        setConn('connecting', info.attempt ? `Reconnecting (attempt ${info.attempt})…` : 'Connecting…');
        break;
      case 'open':
        setConn('open', 'Connected');
        banner.replaceChildren();
        if (info.reconnected) {
          transcript.system(info.resumed ? 'Reconnected. The conversation continues where it left off.' : 'Reconnected. The earlier conversation could not be continued, so a new one starts.', { kind: 'reconnected' });
          announce('Reconnected to the tutor. The conversation continues.');
          reconcile();
        } else if (info.resumed) {
          transcript.system(`Connected. The conversation continues${info.turns ? `: the tutor remembers ${plural(info.turns, 'earlier turn')}` : ''}.`, { kind: 'reconnected' });
        }
        break;
      case 'waiting': {
        setConn('waiting', 'Reconnecting…');
        const why = info.restarting ? 'The tutor’s server is restarting, so the connection to the tutor was lost for a moment.' : 'The connection to the tutor was lost.';
        const render = () => {
          const s = Math.max(0, Math.ceil((info.retryAt - Date.now()) / 1000));
          showBanner('warn', `${why} Reconnecting in ${plural(s, 'second')}… The conversation continues once connected, and messages you type now are sent then.`, { label: 'Retry now', run: () => client.retryNow() });
        };
        render();
        countdown = setInterval(render, 1000);
        announce(`${why} Reconnecting.`);
        break;
      }
      case 'closed':
        setConn('closed', 'Not connected');
        if (blocked || leaving || info.reason === 'closed' || info.reason === 'stopped') break;
        showBanner('error', info.final ? `${info.reason} Press resume to continue this conversation.` : `${info.reason} Check your connection, then retry.`, {
          label: info.final ? 'Resume' : 'Retry',
          run: () => client.retryNow(),
        });
        break;
      default:
    }
    if (state !== 'open') {
      if (responding) {
        // The reply was cut off with the connection; reconcile() reads how it ended.
        const b = transcript.tutor(responding);
        b.setPending(false);
        b.lost = true;
        b.setNote('cut off when the connection dropped');
        if (!b.text) b.setText('…');
      }
      responding = null;
      speaking = false;
      paused = false;
      requeue();
      transcript.userDropped(); // speech that was not transcribed
    }
    updateControls();
  };

  const beforeReconnect = async (info) => {
    if (info.opened) return true;
    // The upgrade was refused or the server is unreachable: the browser does not say which, so
    // ask the REST API about the membership, and then about the conversation.
    try {
      const why = await checkMembership();
      if (why) {
        block(why);
        return false;
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return false; // signed out
      return true; // the server is unreachable: keep trying
    }
    if (client?.conversationId) {
      try {
        await api.get(`/conversations/${encodeURIComponent(client.conversationId)}`, { signal });
      } catch (err) {
        if (err.status === 404) {
          client.forgetConversation();
          conversationId = null;
          showInAddress();
        }
      }
    }
    return true;
  };

  /**
   * reconcile reads from the server how the replies cut off by a lost connection ended
   * (charged or not) and what of them was heard.
   */
  async function reconcile() {
    const lost = [...transcript.turns.values()].filter((b) => b.lost);
    if (!lost.length || !conversationId) return;
    try {
      const conv = await api.get(`/conversations/${encodeURIComponent(conversationId)}`, { signal });
      for (const m of conv.messages) {
        const b = transcript.turns.get(m.turnId);
        if (!b?.lost) continue;
        b.lost = false;
        if (m.tutorText) b.setText(m.tutorText);
        const note = statusNote(m);
        if (note) b.setNote(note);
        else b.clearNote();
        if (m.tutorAudioUrl) {
          b.audioUrl = m.tutorAudioUrl;
          b.enableReplay();
        }
        if (m.userAudioUrl) attachUserAudio(m.turnId, m.userAudioUrl);
      }
    } catch {
      // the notes stay as they are
    }
  }

  // ---- Events from the server ----
  const onEvent = (msg) => {
    debug.log(msg.type, eventDetail(msg));
    switch (msg.type) {
      case 'session.created':
        showRemaining(msg.remainingChatUses);
        if (player && msg.outputSampleRate) player.sampleRate = msg.outputSampleRate;
        if (msg.conversationId) {
          conversationId = msg.conversationId;
          showInAddress();
        }
        client.send({
          type: 'session.update',
          inputSampleRate: CAPTURE_RATE,
          level: prefs.level,
          topic: prefs.topic,
          turnDetection: prefs.mode === 'manual' ? 'manual' : 'server',
        });
        flush();
        break;
      case 'session.updated':
        break;
      case 'speech.started':
        speaking = true;
        paused = false;
        if (player?.playing) interrupt({ cancel: false, why: 'barge_in' });
        transcript.userPending().setState('Listening…');
        break;
      case 'speech.paused':
        // The learner paused: the server is deciding whether the turn ended. Nothing is sent
        // or charged yet, so the learner can simply go on.
        paused = true;
        transcript.pendingUser?.setState('Listening… go on, or wait for the tutor');
        break;
      case 'speech.resumed':
        paused = false;
        transcript.pendingUser?.setState('Listening…');
        break;
      case 'speech.stopped':
        speaking = false;
        paused = false;
        transcript.pendingUser?.setState('Transcribing…');
        break;
      case 'transcript.user':
        if (unechoed && transcript.pendingUser === unechoed.bubble) unechoed = null;
        transcript.userText(msg.turnId, msg.text);
        break;
      case 'response.started':
        responding = msg.turnId;
        transcript.tutor(msg.turnId);
        break;
      case 'response.text.delta': {
        // One sentence at a time, with that sentence's first audio.
        const b = transcript.tutor(msg.turnId);
        b.appendText(msg.delta);
        transcript.scroll();
        break;
      }
      case 'response.resumed': {
        // The learner's speech over the reply held no words: the reply goes on from the start
        // of the sentence it was cut in, and its audio plays again from there.
        const b = transcript.tutor(msg.turnId);
        player?.resumeClip(msg.turnId);
        b.keepAudio(msg.offsetMs, player?.sampleRate);
        b.interrupted = false;
        b.clearNote();
        responding = msg.turnId;
        transcript.userDropped(); // the speech that paused it (no words)
        break;
      }
      case 'response.done': {
        const b = transcript.tutor(msg.turnId);
        if (msg.text) b.setText(msg.text);
        b.setPending(false);
        b.interrupted = false;
        b.el.dataset.status = 'done';
        if (msg.audioUrl) b.audioUrl = msg.audioUrl;
        if (b.hasAudio) b.enableReplay();
        if (msg.metrics?.firstAudioMs != null) b.setNote(`answered in ${formatLatency(msg.metrics.firstAudioMs)}`);
        else b.clearNote();
        if (msg.userAudioUrl) attachUserAudio(msg.turnId, msg.userAudioUrl);
        if (responding === msg.turnId) responding = null;
        showRemaining(msg.remainingChatUses);
        if (msg.remainingChatUses === 0) {
          transcript.system('That was the last chat of this membership.');
          block('exhausted', { afterReply: true });
        }
        trimAudio();
        break;
      }
      case 'response.cancelled': {
        const b = transcript.tutor(msg.turnId);
        b.setPending(false);
        if (msg.reason === 'error') {
          b.setNote(NOTES.failed);
          b.el.dataset.status = 'failed';
        } else {
          player?.stopClip(msg.turnId);
          b.el.dataset.status = msg.refunded ? 'cancelled' : 'interrupted';
          const after = b.heardMs != null ? ` after ${(b.heardMs / 1000).toFixed(1)} s` : '';
          const how = msg.reason === 'barge_in' ? 'interrupted' : 'stopped';
          // The billing rule: charged only when the learner heard the first sentence.
          b.setNote(msg.refunded ? NOTES.refunded : `${how}${after} — charged`);
        }
        if (!b.text) b.setText('…');
        if (msg.audioUrl) b.audioUrl = msg.audioUrl;
        if (b.hasAudio) b.enableReplay();
        if (msg.userAudioUrl) attachUserAudio(msg.turnId, msg.userAudioUrl);
        if ('remainingChatUses' in msg) showRemaining(msg.remainingChatUses);
        if (responding === msg.turnId) responding = null;
        break;
      }
      case 'error':
        onServerError(msg);
        break;
      default:
    }
    updateControls();
  };

  const onServerError = (msg) => {
    const why = BLOCKING_ERRORS[msg.code];
    if (why) {
      unechoed = null;
      transcript.userDropped('not sent: no chats left on this membership');
      if (msg.code === 'quota_exhausted') showRemaining(0);
      block(why);
      return;
    }
    if (msg.fatal && msg.retryable) {
      // A restart (shutting_down, then 1001) or a server fault: the client reconnects to the
      // same conversation by itself; the banner says so.
      return;
    }
    // Other fatal errors end this session only: the client reconnects with backoff.
    switch (msg.code) {
      case 'shutting_down':
        // A message sent while the server drains: it waits and goes to the restarted server.
        requeue();
        break;
      case 'invalid_request':
        if (unechoed) {
          unechoed.bubble.setNote('not sent');
          if (transcript.pendingUser === unechoed.bubble) transcript.pendingUser = null;
          unechoed = null;
        }
        transcript.system(`${msg.message}`, { kind: 'error' });
        break;
      case 'no_speech':
        transcript.userDropped('not heard');
        transcript.system('I didn’t catch that. Please try again a little louder.');
        break;
      case 'provider_error':
      case 'provider_timeout':
        transcript.system(`The tutor could not answer this time. The chat was not charged. (${msg.message})`, { kind: 'error' });
        break;
      case 'unknown_turn':
        break; // a response.truncate for a turn the server no longer knows: nothing to do
      default:
        transcript.system(`${msg.message}`, { kind: 'error' });
    }
  };

  const onAudio = (data) => {
    if (!player || !responding) return;
    if (player.isStopped(responding)) return; // interrupted: its late audio is dropped
    const pcm = pcmFromBytes(data);
    player.enqueue(responding, pcm);
    const b = transcript.tutor(responding);
    b.pcm.push(pcm);
  };

  // ---- Playback control ----
  /**
   * interrupt stops the tutor's audio now and tells the server how much of each reply was
   * heard (response.truncate); cancel also stops a reply still being produced.
   */
  function interrupt({ cancel, why }) {
    if (!player) return;
    const heard = player.stop();
    const turns = Object.keys(heard).filter((id) => !id.startsWith('replay:'));
    for (const turnId of turns) {
      client?.send({ type: 'response.truncate', turnId, audioEndMs: heard[turnId] });
      const b = transcript.turns.get(turnId);
      if (b) {
        b.interrupted = true;
        b.heardMs = heard[turnId];
        b.setNote(`interrupted after ${(heard[turnId] / 1000).toFixed(1)} s`);
      }
    }
    if (cancel && responding) client?.send({ type: 'response.cancel' });
    debug.log('interrupt', { why, heard, cancel: Boolean(cancel && responding), playingAfter: player.playing });
    updateControls();
  }

  function trimAudio() {
    const withPcm = [...transcript.turns.values()].filter((b) => b.pcm.length && b.audioUrl);
    for (const b of withPcm.slice(0, Math.max(0, withPcm.length - MAX_PCM_BUBBLES))) b.pcm = [];
  }

  function attachUserAudio(turnId, url) {
    const u = transcript.users.get(turnId);
    if (!u || u.audioUrl) return;
    u.audioUrl = url;
    u.enableReplay();
  }

  /**
   * replay plays a tutor's answer (from the frames kept, or stored) or a learner's recording;
   * its button says it is playing and stops it (so do Stop and Escape).
   */
  async function replay(bubble) {
    await ensureAudio(); // a click: audio may start
    interrupt({ cancel: false, why: 'replay' });
    replayCount += 1;
    const id = `replay:${bubble.turnId}:${replayCount}`;
    const source = bubble.pcm.length ? 'buffer' : 'url';
    debug.log('replay', { turnId: bubble.turnId, role: bubble.role, source });
    replaying.set(id, bubble);
    bubble.setPlaying(true);
    try {
      if (bubble.pcm.length) {
        for (const pcm of bubble.pcm) player.enqueue(id, pcm);
      } else if (bubble.audioUrl) {
        const { rate, pcm } = await loadClip(bubble.audioUrl, { signal });
        if (replaying.has(id)) player.enqueue(id, pcm, rate); // not stopped while it loaded
      }
    } catch (err) {
      replayEnded(id);
      if (err.name !== 'AbortError') {
        const what = bubble.role === 'user' ? 'Your recording' : 'The answer';
        transcript.system(`${what} could not be replayed: ${errorText(err)}`, { kind: 'error' });
      }
    }
    updateControls();
  }

  /** stopReplay stops the replay of bubble (its button, pressed again). */
  function stopReplay(bubble) {
    for (const [id, b] of replaying) if (b === bubble) replayEnded(id);
    interrupt({ cancel: false, why: 'replay_stopped' });
  }

  /** replayEnded marks a replay's bubble as no longer playing. */
  function replayEnded(id) {
    const b = replaying.get(id);
    if (!b) return;
    replaying.delete(id);
    player?.forget(id);
    if (![...replaying.values()].includes(b)) b.setPlaying(false);
    debug.log('replay.ended', { turnId: b.turnId });
  }

  /** ensureAudio makes the audio context and the player (on a click: audio needs a gesture). */
  async function ensureAudio() {
    if (!audioCtx) {
      audioCtx = new AudioContext({ latencyHint: 'interactive' });
      player = new Player(audioCtx);
      player.onclipend = (id) => {
        replayEnded(id);
        updateControls();
      };
      player.onidle = () => {
        if (dialogAfterReply) {
          dialogAfterReply = false;
          showBlockedDialog();
        }
        updateControls();
      };
    }
    if (audioCtx.state !== 'running') await audioCtx.resume();
  }

  // ---- Microphone ----
  const onFrame = (pcm, rms) => {
    if (!client?.open || blocked || muted) {
      meter.push(rms, false);
      return;
    }
    if (prefs.mode === 'manual') {
      if (pttHeld) {
        client.sendAudio(pcm);
        frames.sent += 1;
      } else {
        frames.held += 1;
      }
      meter.push(rms, pttHeld);
      return;
    }
    // Hands-free: every frame goes out, as heard or as silence (the echo guard).
    const admit = guard.admit(rms, player ? player.level() : 0);
    if (admit) {
      client.sendAudio(pcm);
      frames.sent += 1;
    } else {
      if (silence.length !== pcm.length) silence = new Int16Array(pcm.length);
      client.sendAudio(silence);
      frames.silenced += 1;
    }
    meter.push(rms, admit);
  };

  async function startMic() {
    micState = 'starting';
    updateControls();
    try {
      capture = await startCapture(audioCtx, onFrame);
      if (leaving || blocked) {
        stopMic();
        return;
      }
      micState = 'on';
      debug.log('mic', { state: 'on', label: capture.label });
      announce(prefs.mode === 'manual' ? 'Microphone on. Hold the Space bar to talk.' : 'Microphone on. Speak any time.');
    } catch (err) {
      micState = err instanceof MicError && err.kind === 'denied' ? 'denied' : 'error';
      debug.log('mic', { state: micState, error: err.name, kind: err.kind });
      showMicProblem(err);
    }
    updateControls();
  }

  function stopMic() {
    capture?.stop();
    capture = null;
    if (micState === 'on' || micState === 'starting') micState = 'off';
  }

  function showMicProblem(err) {
    const denied = err instanceof MicError && err.kind === 'denied';
    const box = h(
      'div',
      { class: 'notice notice-warn', role: 'alert', id: 'mic-problem' },
      h('h3', {}, denied ? 'The microphone is blocked' : 'The microphone is not available'),
      denied
        ? [
            h('p', {}, 'aitutor needs your permission to hear you. To allow it:'),
            h(
              'ul',
              {},
              h('li', {}, 'Click the lock or microphone icon next to the address bar and set Microphone to “Allow”.'),
              h('li', {}, 'On a phone, open the browser’s site settings for this page and allow the microphone.'),
              h('li', {}, 'Then press “Try the microphone again”.'),
            ),
          ]
        : h('p', {}, errorText(err)),
      h('p', {}, 'You can keep practising by typing your messages below.'),
      h('button', { type: 'button', id: 'mic-retry', onclick: () => { box.remove(); startMic(); } }, 'Try the microphone again'),
    );
    document.getElementById('mic-problem')?.remove();
    startPanel.after(box);
  }

  // ---- Start ----
  async function start() {
    if (started || blocked) return;
    started = true;
    startButton.disabled = true;
    // Audio may only start after a gesture: this click.
    await ensureAudio();
    if (leaving) return;
    client = new TutorClient({
      membershipId: params.membershipId,
      conversationId,
      getToken: () => session.token,
      onEvent,
      onAudio,
      onState,
      beforeReconnect,
    });
    client.connect();
    startPanel.hidden = true;
    uiTimer = setInterval(updateControls, 250);
    startMic();
    updateControls();
    // The Start button is gone: keyboard users go on at the push-to-talk button (Space talks
    // there), or at the conversation itself. Not the message box: Space would type spaces, and
    // a phone would open its keyboard over the conversation.
    (prefs.mode === 'manual' ? pttButton : transcriptEl).focus({ preventScroll: true });
  }
  startButton.addEventListener('click', start);

  // ---- Typed messages ----
  const QUEUED = 'waiting for the connection — sent once connected';

  /** sendText sends a typed turn now; the bubble waits for the server's transcript.user. */
  function sendText(text, bubble) {
    if (player?.playing) interrupt({ cancel: false, why: 'typed' });
    transcript.userDropped();
    const queued = bubble != null;
    if (bubble) {
      transcript.pendingUser = bubble;
      delete bubble.el.dataset.queued;
      bubble.setNote('sending…');
    } else {
      bubble = transcript.userPending(text);
    }
    unechoed = { text, bubble };
    client.send({ type: 'text.input', text });
    debug.log('text.input', { length: text.length, queued });
  }

  /** queue keeps a message typed while not connected; it is sent once connected (flush). */
  function queue(text) {
    if (outbox && outbox.text.length + 1 + text.length > MAX_TEXT) return false;
    if (outbox) {
      outbox.text = `${outbox.text}\n${text}`;
      outbox.bubble.setText(outbox.text);
    } else {
      outbox = { text, bubble: transcript.userQueued(text) };
    }
    outbox.bubble.setNote(QUEUED);
    debug.log('queued', { length: outbox.text.length });
    return true;
  }

  /** requeue puts a message sent but not answered before the connection went back in the queue. */
  function requeue() {
    if (!unechoed) return;
    const { text, bubble } = unechoed;
    unechoed = null;
    if (transcript.pendingUser === bubble) transcript.pendingUser = null;
    if (outbox) {
      outbox.text = `${text}\n${outbox.text}`;
      outbox.bubble.setText(outbox.text);
      bubble.el.remove();
    } else {
      outbox = { text, bubble };
    }
    outbox.bubble.el.dataset.queued = 'true';
    outbox.bubble.setNote(QUEUED);
    debug.log('requeued', { length: outbox.text.length });
  }

  /** flush sends the message that waited for the connection. */
  function flush() {
    if (!outbox || blocked || !client?.open) return;
    const { text, bubble } = outbox;
    outbox = null;
    sendText(text, bubble);
    announce('Connected. Your message was sent.');
  }

  composer.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = messageInput.value.trim();
    if (!text || blocked) return;
    if (client?.open) {
      sendText(text);
      messageInput.value = '';
      return;
    }
    // Not connected (yet): the message waits, on screen, and goes once connected.
    if (!queue(text)) {
      announce('Not connected, and the waiting message is long enough: this one stays in the box.');
      return;
    }
    messageInput.value = '';
    if (!started) start();
    else if (client?.state === 'closed') client.retryNow();
    announce('Not connected right now. Your message will be sent once the connection is back.');
  });

  // ---- Settings ----
  levelSelect.addEventListener('change', () => {
    prefs.level = levelSelect.value;
    savePrefs();
    if (client?.send({ type: 'session.update', level: prefs.level })) announce(`Level set to ${prefs.level}.`);
  });
  topicForm.addEventListener('submit', (e) => {
    e.preventDefault();
    prefs.topic = topicInput.value.replace(/\s+/g, ' ').trim();
    prefs.level = levelSelect.value;
    savePrefs();
    const sent = client?.send({ type: 'session.update', level: prefs.level, topic: prefs.topic });
    announce(sent ? `Practice settings applied${prefs.topic ? `: ${prefs.topic}` : ''}.` : 'Practice settings saved for your next conversation.');
  });
  for (const input of Object.values(modeInputs)) {
    input.addEventListener('change', () => {
      if (!input.checked) return;
      prefs.mode = input.value;
      savePrefs();
      pttHeld = false;
      client?.send({ type: 'session.update', turnDetection: prefs.mode === 'manual' ? 'manual' : 'server' });
      announce(prefs.mode === 'manual' ? 'Push to talk: hold the Space bar while you speak.' : 'Hands-free: just speak.');
      updateControls();
    });
  }
  micButton.addEventListener('click', () => {
    muted = !muted;
    updateControls();
  });
  stopButton.addEventListener('click', () => interrupt({ cancel: true, why: 'stop_button' }));

  // ---- Push to talk, Space and Escape ----
  const pttDown = () => {
    if (prefs.mode !== 'manual' || pttHeld || !canTalk() || micState !== 'on' || muted) return;
    pttHeld = true;
    pttButton.setAttribute('aria-pressed', 'true');
    if (player?.playing || responding) interrupt({ cancel: true, why: 'push_to_talk' });
    client.send({ type: 'input.clear' });
    transcript.userPending().setState('Listening…');
    debug.log('ptt', { down: true });
    updateControls();
  };
  const pttUp = () => {
    if (!pttHeld) return;
    pttHeld = false;
    pttButton.setAttribute('aria-pressed', 'false');
    client?.send({ type: 'input.commit' });
    // Until the server's transcript comes: the turn is being transcribed.
    transcript.pendingUser?.setState('Transcribing…');
    debug.log('ptt', { down: false });
    updateControls();
  };
  /** pttCancel drops what was said since the key went down (Escape while holding it). */
  const pttCancel = () => {
    if (!pttHeld) return;
    pttHeld = false;
    pttButton.setAttribute('aria-pressed', 'false');
    client?.send({ type: 'input.clear' });
    transcript.userDropped();
    debug.log('ptt', { down: false, cancelled: true });
    announce('Recording discarded: nothing was sent.');
    updateControls();
  };
  pttButton.addEventListener('pointerdown', (e) => {
    pttButton.setPointerCapture(e.pointerId);
    pttDown();
  });
  pttButton.addEventListener('pointerup', pttUp);
  pttButton.addEventListener('pointercancel', pttUp);
  pttButton.addEventListener('lostpointercapture', pttUp);
  // Space talks in push-to-talk mode unless a control that uses Space has the focus (the
  // message box, the topic, a link or another button); the push-to-talk button and the mode
  // switch (an already checked radio) let it through.
  const spaceTarget = (t) =>
    !(t instanceof Element) || t === pttButton || (t.matches('input[type="radio"][name="mode"]') && t.checked) ||
    !t.closest('input, textarea, select, button, a, [contenteditable], summary, dialog');
  const inDialog = (t) => t instanceof Element && t.closest('dialog') != null;
  const onKeyDown = (e) => {
    if (e.key === 'Escape' && !inDialog(e.target) && !document.querySelector('dialog[open]')) {
      if (pttHeld) {
        e.preventDefault();
        pttCancel();
      } else if (player?.playing || responding) {
        e.preventDefault();
        interrupt({ cancel: true, why: 'escape' });
        announce('The tutor stopped.');
      }
      return;
    }
    if (e.code !== 'Space' || prefs.mode !== 'manual' || !spaceTarget(e.target)) return;
    e.preventDefault();
    if (!e.repeat) pttDown();
  };
  const onKeyUp = (e) => {
    if (e.code !== 'Space' || prefs.mode !== 'manual' || !spaceTarget(e.target)) return;
    e.preventDefault();
    pttUp();
  };
  document.addEventListener('keydown', onKeyDown);
  document.addEventListener('keyup', onKeyUp);
  window.addEventListener('blur', pttUp);

  // A message that was still waiting when the page was last left (or reloaded) is back in the box.
  const draft = takeDraft(params.membershipId);
  if (draft && !blocked) {
    messageInput.value = draft.slice(0, MAX_TEXT);
    transcript.system('Your message that was not sent yet is back in the box below: press Send to send it.');
  }
  const onPageHide = () => {
    if (outbox) keepDraft(params.membershipId, outbox.text);
  };
  window.addEventListener('pagehide', onPageHide);

  showRemaining(remaining);
  updateControls();

  // ---- Leaving the page ----
  return () => {
    onPageHide();
    window.removeEventListener('pagehide', onPageHide);
    leaving = true;
    clearInterval(uiTimer);
    clearInterval(countdown);
    document.removeEventListener('keydown', onKeyDown);
    document.removeEventListener('keyup', onKeyUp);
    window.removeEventListener('blur', pttUp);
    client?.close();
    stopMic();
    player?.close();
    meter.destroy();
    audioCtx?.close();
  };
}

/** eventDetail is what the debug log keeps of an event (no long texts). */
function eventDetail(msg) {
  const { type, delta, text, ...rest } = msg;
  if (delta != null) rest.deltaLength = delta.length;
  if (text != null) rest.text = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return rest;
}
