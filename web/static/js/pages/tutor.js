// The tutor: a live spoken conversation over WebSocket protocol v1.
//
// Microphone → AudioWorklet (16 kHz, 20 ms frames) → echo guard → socket; the server detects
// the learner's turns (hands-free) or the learner holds a key (push-to-talk). The tutor's reply
// arrives as text deltas and PCM frames that play gap-free; when the learner starts speaking
// over it, its audio stops at once and the server is told how much was heard.

import { ApiError } from '../api.js';
import { h, replace } from '../dom.js';
import { ms, plural, statusLabel } from '../format.js';
import { announce, errorText, openDialog } from '../ui.js';
import { CAPTURE_RATE, MicError, startCapture } from '../tutor/capture.js';
import * as debug from '../tutor/debug.js';
import { EchoGuard } from '../tutor/echoguard.js';
import { LevelMeter } from '../tutor/meter.js';
import { Player, pcmFromBytes } from '../tutor/playback.js';
import { TutorClient } from '../tutor/protocol.js';
import { Transcript } from '../tutor/transcript.js';
import { parseWav } from '../tutor/wav.js';

const PREFS = 'aitutor.tutor';
const LEVELS = [
  ['beginner', 'Beginner'],
  ['intermediate', 'Intermediate'],
  ['advanced', 'Advanced'],
];
const MAX_PCM_BUBBLES = 20; // tutor bubbles whose audio stays in memory for replay

// Why a membership cannot be used, for the modal.
const BLOCKED = {
  exhausted: {
    title: 'No chats left',
    text: 'This membership has no conversations left. Buy a plan to keep practising.',
  },
  expired: {
    title: 'Membership expired',
    text: 'This membership has expired. Buy a plan to keep practising.',
  },
  revoked: {
    title: 'Membership revoked',
    text: 'An administrator revoked this membership. Contact them, or buy a plan of your own.',
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

function loadPrefs() {
  try {
    return { mode: 'server', level: 'intermediate', topic: '', ...JSON.parse(localStorage.getItem(PREFS) ?? '{}') };
  } catch {
    return { mode: 'server', level: 'intermediate', topic: '' };
  }
}

export async function tutorPage({ root, params, session, signal }) {
  debug.reset();
  const prefs = loadPrefs();
  const savePrefs = () => {
    try {
      localStorage.setItem(PREFS, JSON.stringify(prefs));
    } catch {
      // not remembered
    }
  };

  // ---- Layout ----
  const title = h('h1', {}, 'Conversation');
  const counter = h('span', { class: 'counter', id: 'remaining', 'aria-live': 'polite' }, '…');
  const conn = h('span', { class: 'conn', id: 'conn-state', role: 'status', dataset: { state: 'idle' } }, 'Not connected');
  const banner = h('div', { id: 'tutor-banner' });
  // Enabled once the membership is checked and the page is wired (updateControls).
  const startButton = h('button', { type: 'button', class: 'primary big', id: 'start', disabled: true }, 'Start conversation');
  const startPanel = h(
    'section',
    { class: 'card start-panel', id: 'start-panel', 'aria-labelledby': 'start-h' },
    h('h2', { id: 'start-h' }, 'Ready when you are'),
    h('p', {}, 'Press start, allow the microphone, and say hello. The tutor answers out loud, so turn your sound on.'),
    startButton,
    h('p', { class: 'small muted' }, 'Headphones help: the tutor will not hear itself, and you can interrupt it any time by speaking.'),
  );
  const transcriptEl = h('div', { class: 'transcript', id: 'transcript', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation transcript', tabindex: '0' });
  const messageInput = h('input', { type: 'text', id: 'message', name: 'message', autocomplete: 'off', maxlength: 2000, placeholder: 'Type a message instead of speaking…' });
  const sendButton = h('button', { type: 'submit', id: 'send', class: 'primary' }, 'Send');
  const composer = h('form', { class: 'composer', id: 'composer' }, h('label', { class: 'sr-only', htmlFor: 'message' }, 'Type a message to the tutor'), messageInput, sendButton);

  const modeInputs = {
    server: h('input', { type: 'radio', name: 'mode', value: 'server', id: 'mode-server', checked: prefs.mode !== 'manual' }),
    manual: h('input', { type: 'radio', name: 'mode', value: 'manual', id: 'mode-manual', checked: prefs.mode === 'manual' }),
  };
  const modeSwitch = h(
    'div',
    { class: 'mode-switch', role: 'radiogroup', 'aria-label': 'How you talk' },
    h('label', { htmlFor: 'mode-server' }, modeInputs.server, 'Hands-free'),
    h('label', { htmlFor: 'mode-manual' }, modeInputs.manual, 'Push to talk'),
  );
  const meterCanvas = h('canvas', { class: 'meter', id: 'meter', 'aria-hidden': 'true' });
  const micStatus = h('p', { class: 'mic-status', id: 'mic-status', role: 'status', dataset: { state: 'off' } }, 'Microphone off');
  const pttButton = h('button', { type: 'button', class: 'ptt', id: 'ptt', 'aria-pressed': 'false', hidden: true }, 'Hold to talk (Space)');
  const micButton = h('button', { type: 'button', id: 'mic-toggle', 'aria-pressed': 'false', disabled: true }, 'Mute microphone');
  const stopButton = h('button', { type: 'button', id: 'stop-tutor', disabled: true }, 'Stop the tutor');
  const modeHint = h('p', { class: 'hint', id: 'mode-hint' });

  const levelSelect = h('select', { id: 'level', name: 'level' }, LEVELS.map(([v, label]) => h('option', { value: v, selected: prefs.level === v }, label)));
  const topicInput = h('input', { type: 'text', id: 'topic', name: 'topic', maxlength: 120, value: prefs.topic, placeholder: 'e.g. travel, job interviews, cooking' });
  const topicForm = h(
    'form',
    { id: 'topic-form' },
    h('div', { class: 'field' }, h('label', { htmlFor: 'level' }, 'Your level'), levelSelect),
    h('div', { class: 'field' }, h('label', { htmlFor: 'topic' }, 'Topic'), topicInput, h('span', { class: 'hint' }, 'Leave empty to talk about anything.')),
    h('button', { type: 'submit', id: 'topic-apply' }, 'Apply'),
  );

  replace(
    root,
    h(
      'div',
      { class: 'tutor' },
      h(
        'div',
        { class: 'tutor-main' },
        h('div', { class: 'tutor-head' }, title, counter, conn),
        banner,
        startPanel,
        transcriptEl,
        composer,
      ),
      h(
        'aside',
        { class: 'tutor-side' },
        h(
          'section',
          { class: 'card mic-panel', 'aria-labelledby': 'mic-h' },
          h('h2', { id: 'mic-h' }, 'Microphone'),
          modeSwitch,
          meterCanvas,
          micStatus,
          pttButton,
          h('div', { class: 'row' }, micButton, stopButton),
          modeHint,
          h('p', { class: 'hint' }, 'Headphones help: without them the tutor’s voice can reach your microphone. The app then only listens for a voice clearly louder than the tutor’s.'),
        ),
        h('section', { class: 'card settings-card', 'aria-labelledby': 'settings-h' }, h('h2', { id: 'settings-h' }, 'Practice settings'), topicForm),
      ),
    ),
  );

  // ---- State ----
  const transcript = new Transcript(transcriptEl, { onReplay: (b) => replay(b) });
  const meter = new LevelMeter(meterCanvas);
  const guard = new EchoGuard();
  let membership = null;
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
  let everOpened = false;
  let remaining;
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
  debug.probe('state', () => ({ connection: client?.state ?? 'idle', mic: micState, mode: prefs.mode, remaining, blocked, responding, muted, pttHeld }));

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
    stopMic();
    updateControls();
    if (afterReply && player?.playing) dialogAfterReply = true;
    else showBlockedDialog();
  };

  const showBlockedDialog = () => {
    const info = BLOCKED[blocked];
    blockedDialog?.close();
    blockedDialog = openDialog({
      title: info.title,
      testid: 'membership-blocked',
      kind: 'blocked',
      body: h('div', {}, h('p', {}, info.text), h('p', {}, 'The microphone and messages are turned off for this membership.')),
      actions: [
        { label: 'Back home', value: 'home', href: '#/' },
        { label: 'See plans', value: 'plans', kind: 'primary', href: '#/plans', autofocus: true },
      ],
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

  try {
    const why = await checkMembership();
    if (why) {
      title.textContent = membership ? membership.plan.name : 'Conversation';
      block(why);
    } else {
      title.textContent = membership.plan.name;
    }
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
    sendButton.disabled = off || !client?.open;
    for (const input of Object.values(modeInputs)) input.disabled = off;
    const manual = prefs.mode === 'manual';
    pttButton.hidden = !manual;
    pttButton.disabled = off || micState !== 'on' || !client?.open;
    micButton.disabled = off || micState !== 'on';
    micButton.textContent = muted ? 'Unmute microphone' : 'Mute microphone';
    micButton.setAttribute('aria-pressed', String(muted));
    stopButton.disabled = !(player?.playing || responding);
    modeHint.textContent = manual
      ? 'Push to talk: hold the button or the Space bar while you speak, and release it to send.'
      : 'Hands-free: just speak. The tutor answers when you pause, and you can interrupt it by talking.';
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
    if (speaking && !off && micState === 'on' && !manual) [state, text] = ['speaking', 'Hearing you…'];
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
    debug.log('connection', { state, code: info.code, attempt: info.attempt });
    clearInterval(countdown);
    switch (state) {
      case 'connecting':
        setConn('connecting', info.attempt ? `Reconnecting (attempt ${info.attempt})…` : 'Connecting…');
        break;
      case 'open':
        setConn('open', 'Connected');
        banner.replaceChildren();
        if (everOpened) {
          transcript.system('Reconnected. The tutor starts a fresh session; your earlier messages stay on screen.');
          announce('Reconnected to the tutor.');
        }
        everOpened = true;
        break;
      case 'waiting': {
        setConn('waiting', 'Connection lost');
        const render = () => {
          const s = Math.max(0, Math.ceil((info.retryAt - Date.now()) / 1000));
          showBanner('warn', `The connection to the tutor was lost. Reconnecting in ${plural(s, 'second')}…`, { label: 'Retry now', run: () => client.retryNow() });
        };
        render();
        countdown = setInterval(render, 1000);
        announce('The connection to the tutor was lost. Reconnecting.');
        break;
      }
      case 'closed':
        setConn('closed', 'Not connected');
        if (blocked || leaving || info.reason === 'closed' || info.reason === 'stopped') break;
        showBanner('error', info.final ? `${info.reason} Press resume to continue.` : `${info.reason} Check your connection, then retry.`, {
          label: info.final ? 'Resume' : 'Retry',
          run: () => client.retryNow(),
        });
        break;
      default:
    }
    if (state !== 'open') {
      responding = null;
      speaking = false;
    }
    updateControls();
  };

  const beforeReconnect = async (info) => {
    if (info.opened) return true;
    // The upgrade was refused or the server is unreachable: the browser does not say which, so
    // ask the REST API about the membership.
    try {
      const why = await checkMembership();
      if (why) {
        block(why);
        return false;
      }
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return false; // signed out
      return true;
    }
  };

  // ---- Events from the server ----
  const onEvent = (msg) => {
    debug.log(msg.type, eventDetail(msg));
    switch (msg.type) {
      case 'session.created':
        showRemaining(msg.remainingChatUses);
        if (player && msg.outputSampleRate) player.sampleRate = msg.outputSampleRate;
        client.send({
          type: 'session.update',
          inputSampleRate: CAPTURE_RATE,
          level: prefs.level,
          topic: prefs.topic,
          turnDetection: prefs.mode === 'manual' ? 'manual' : 'server',
        });
        break;
      case 'session.updated':
        break;
      case 'speech.started':
        speaking = true;
        if (player?.playing) interrupt({ cancel: false, why: 'barge_in' });
        transcript.userPending();
        break;
      case 'speech.stopped':
        speaking = false;
        break;
      case 'transcript.user':
        transcript.userText(msg.turnId, msg.text);
        break;
      case 'response.started':
        responding = msg.turnId;
        transcript.tutor(msg.turnId);
        break;
      case 'response.text.delta': {
        const b = transcript.tutor(msg.turnId);
        b.appendText(msg.delta);
        transcript.scroll();
        break;
      }
      case 'response.done': {
        const b = transcript.tutor(msg.turnId);
        if (msg.text) b.setText(msg.text);
        b.setPending(false);
        if (msg.audioUrl) b.audioUrl = msg.audioUrl;
        if (b.hasAudio) b.enableReplay();
        if (msg.metrics?.firstAudioMs != null) b.setNote(`answered in ${ms(msg.metrics.firstAudioMs)}`);
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
        if (msg.reason === 'barge_in' || msg.reason === 'client_cancel') {
          player?.stopClip(msg.turnId);
          if (!b.interrupted) b.setNote(msg.reason === 'barge_in' ? 'interrupted' : 'stopped');
        } else {
          b.setNote('the tutor could not finish this answer');
        }
        if (!b.text) b.setText('…');
        if (b.hasAudio) b.enableReplay();
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
      transcript.userDropped('not sent: no chats left on this membership');
      if (msg.code === 'quota_exhausted') showRemaining(0);
      block(why);
      return;
    }
    // Other fatal errors (a server restart, a protocol error) end this session only: the
    // client reconnects with backoff.
    switch (msg.code) {
      case 'no_speech':
        transcript.userDropped('not heard');
        transcript.system('I didn’t catch that. Please try again a little louder.');
        break;
      case 'provider_error':
      case 'provider_timeout':
        transcript.system(`The tutor could not answer this time. The chat was not charged. (${msg.message})`, { kind: 'error' });
        break;
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

  async function replay(bubble) {
    if (!player) return;
    interrupt({ cancel: false, why: 'replay' });
    replayCount += 1;
    const id = `replay:${bubble.turnId}:${replayCount}`;
    debug.log('replay', { turnId: bubble.turnId, source: bubble.pcm.length ? 'buffer' : 'url' });
    try {
      if (bubble.pcm.length) {
        for (const pcm of bubble.pcm) player.enqueue(id, pcm);
      } else if (bubble.audioUrl) {
        const res = await fetch(bubble.audioUrl, { signal });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const { rate, pcm } = parseWav(await res.arrayBuffer());
        player.enqueue(id, pcm, rate);
      }
    } catch (err) {
      if (err.name !== 'AbortError') transcript.system(`The answer could not be replayed: ${errorText(err)}`, { kind: 'error' });
    }
    updateControls();
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
    audioCtx = new AudioContext({ latencyHint: 'interactive' });
    await audioCtx.resume();
    player = new Player(audioCtx);
    player.onidle = () => {
      if (dialogAfterReply) {
        dialogAfterReply = false;
        showBlockedDialog();
      }
      updateControls();
    };
    client = new TutorClient({
      membershipId: params.membershipId,
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
    messageInput.focus();
  }
  startButton.addEventListener('click', start);

  // ---- Typed messages ----
  composer.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = messageInput.value.trim();
    if (!text || blocked) return;
    if (!started) {
      start();
      return;
    }
    if (!client?.open) {
      announce('Not connected yet. Your message was not sent.');
      return;
    }
    if (player?.playing) interrupt({ cancel: false, why: 'typed' });
    transcript.userDropped();
    transcript.userPending(text);
    client.send({ type: 'text.input', text });
    messageInput.value = '';
    debug.log('text.input', { length: text.length });
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

  // ---- Push to talk ----
  const pttDown = () => {
    if (prefs.mode !== 'manual' || pttHeld || !canTalk() || micState !== 'on' || muted) return;
    pttHeld = true;
    pttButton.setAttribute('aria-pressed', 'true');
    if (player?.playing || responding) interrupt({ cancel: true, why: 'push_to_talk' });
    client.send({ type: 'input.clear' });
    transcript.userPending();
    debug.log('ptt', { down: true });
    updateControls();
  };
  const pttUp = () => {
    if (!pttHeld) return;
    pttHeld = false;
    pttButton.setAttribute('aria-pressed', 'false');
    client?.send({ type: 'input.commit' });
    debug.log('ptt', { down: false });
    updateControls();
  };
  pttButton.addEventListener('pointerdown', (e) => {
    pttButton.setPointerCapture(e.pointerId);
    pttDown();
  });
  pttButton.addEventListener('pointerup', pttUp);
  pttButton.addEventListener('pointercancel', pttUp);
  pttButton.addEventListener('lostpointercapture', pttUp);
  const spaceTarget = (t) => !(t instanceof Element) || t === pttButton || !t.closest('input, textarea, select, button, a, [contenteditable], summary, dialog');
  const onKeyDown = (e) => {
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

  showRemaining(remaining);
  updateControls();

  // ---- Leaving the page ----
  return () => {
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
