// The official openai package's Realtime WebSocket client (openai/realtime/ws) against
// aitutor's /v1/realtime. Usage: node openai-ws.mjs <scenario>, configured by AITUTOR_* variables
// (common.mjs); prints one JSON line with what it saw. Run by server/realtime_node_test.go.
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';

import { EventLog, check, chunks, config, readWav, run, silence } from './common.mjs';

const client = new OpenAI({ apiKey: config.token, baseURL: config.baseURL });

// connect opens a session and waits for session.created.
async function connect({ conversation = '' } = {}) {
  const headers = {};
  if (config.membership) {
    headers['X-Aitutor-Membership'] = config.membership;
  }
  if (conversation) {
    headers['X-Aitutor-Conversation'] = conversation;
  }
  const rt = new OpenAIRealtimeWS({ model: 'gpt-realtime', options: { headers } }, client);
  const log = new EventLog();
  const errors = [];
  rt.on('event', (ev) => log.add(ev));
  rt.on('error', (err) => errors.push(err.error ?? { message: err.message }));
  const closed = new Promise((resolve) => rt.socket.on('close', (code) => resolve(code)));
  const opened = await Promise.race([
    log.next('session.created').then(({ ev }) => ev),
    new Promise((resolve) => rt.socket.once('unexpected-response', (req, res) => resolve({ http: res.statusCode }))),
    closed.then((code) => ({ closed: code })),
  ]);
  if (!opened.session) {
    throw new Error(`no session: ${JSON.stringify(opened)}; errors: ${errors.map((e) => e.message).join('; ')}`);
  }
  const ev = opened;
  return { rt, log, errors, closed, session: ev.session };
}

function say(rt, text) {
  rt.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } });
  rt.send({ type: 'response.create' });
}

function appendPCM(rt, pcm) {
  for (const c of chunks(pcm)) {
    rt.send({ type: 'input_audio_buffer.append', audio: c.toString('base64') });
  }
}

async function done(c) {
  c.rt.close();
  await c.closed;
  check(c.log.invalid.length === 0, `events the SDK's schemas reject: ${JSON.stringify(c.log.invalid)}`);
}

function remaining(log) {
  const rl = log.events.filter((e) => e.type === 'rate_limits.updated').pop();
  return rl?.rate_limits?.[0]?.remaining;
}

const scenarios = {
  // A typed turn, with instructions and a voice set first.
  async typed() {
    const c = await connect();
    c.rt.send({ type: 'session.update', session: { type: 'realtime', instructions: 'The learner is training to be a chef.', audio: { output: { voice: 'alloy' } } } });
    const upd = await c.log.next('session.updated');
    check(upd.ev.session.instructions === 'The learner is training to be a chef.', 'session.updated lacks the instructions');
    const from = c.log.events.length;
    say(c.rt, 'Hello! I want to talk about cooking pasta.');
    const { ev } = await c.log.next('response.done', { from });
    c.log.inOrder(['conversation.item.added', 'conversation.item.done', 'response.created', 'response.output_item.added',
      'response.content_part.added', 'response.output_audio.delta', 'response.output_audio_transcript.delta',
      'response.output_audio.done', 'response.output_audio_transcript.done', 'response.content_part.done',
      'response.output_item.done', 'response.done'], from);
    const r = ev.response;
    check(r.status === 'completed', `status ${r.status}`);
    const transcript = r.output[0].content[0].transcript;
    await done(c);
    return { conversationId: c.session.aitutor.conversationId, status: r.status, transcript, audioBytes: c.log.audioBytes(r.id),
      usage: r.usage, metrics: r.aitutor.metrics, remaining: remaining(c.log), errors: c.errors, types: c.log.types() };
  },

  // A spoken turn: the WAV appended as 24 kHz PCM, server VAD ends it and a response follows.
  async spoken() {
    const c = await connect();
    c.rt.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { format: { type: 'audio/pcm', rate: 24000 },
      turn_detection: { type: 'server_vad', silence_duration_ms: 500, create_response: true, interrupt_response: true } } } } });
    await c.log.next('session.updated');
    const from = c.log.events.length;
    appendPCM(c.rt, Buffer.concat([silence(300), readWav(config.wav), silence(1000)]));
    const { ev } = await c.log.next('response.done', { from });
    c.log.inOrder(['input_audio_buffer.speech_started', 'input_audio_buffer.speech_stopped', 'input_audio_buffer.committed',
      'conversation.item.added', 'conversation.item.input_audio_transcription.completed', 'response.created',
      'response.output_audio.delta', 'response.done'], from);
    const heard = c.log.events.find((e) => e.type === 'conversation.item.input_audio_transcription.completed');
    const started = c.log.events.find((e) => e.type === 'input_audio_buffer.speech_started');
    const stopped = c.log.events.find((e) => e.type === 'input_audio_buffer.speech_stopped');
    await done(c);
    return { conversationId: c.session.aitutor.conversationId, status: ev.response.status, learner: heard.transcript,
      speechStartMs: started.audio_start_ms, speechEndMs: stopped.audio_end_ms, audioBytes: c.log.audioBytes(ev.response.id),
      errors: c.errors, types: c.log.types() };
  },

  // response.cancel as soon as the response is created.
  async cancel() {
    const c = await connect();
    const from = c.log.events.length;
    say(c.rt, 'Tell me a long story about your travels.');
    await c.log.next('response.created', { from });
    c.rt.send({ type: 'response.cancel' });
    const { ev } = await c.log.next('response.done', { from });
    check(ev.response.status === 'cancelled', `status ${ev.response.status}`);
    await done(c);
    return { status: ev.response.status, reason: ev.response.status_details?.reason, refunded: ev.response.aitutor?.refunded,
      remaining: remaining(c.log), errors: c.errors, types: c.log.types() };
  },

  // The learner talks over a long reply (server VAD with interrupt_response): the reply is
  // cancelled, the app truncates it to what it played, and the learner's words are answered.
  async bargein() {
    const c = await connect();
    c.rt.send({ type: 'session.update', session: { type: 'realtime', audio: { input: {
      turn_detection: { type: 'server_vad', silence_duration_ms: 500, interrupt_response: true } } } } });
    await c.log.next('session.updated');
    const from = c.log.events.length;
    say(c.rt, 'Tell me a long story about your travels.');
    const first = await c.log.next('response.output_audio.delta', { from });
    const respId = first.ev.response_id;
    const itemId = first.ev.item_id;
    const firstAudioAt = Date.now();
    // Let some of the reply play (at least 1.5 s of audio received), then speak over it.
    await c.log.next('response.output_audio.delta', { from, pred: () => c.log.audioBytes(respId) >= 1.5 * 48000 });
    await new Promise((r) => setTimeout(r, 300));
    appendPCM(c.rt, Buffer.concat([readWav(config.wav), silence(1000)]));
    await c.log.next('input_audio_buffer.speech_started', { from });
    const interrupted = await c.log.next('response.done', { from, pred: (e) => e.response.id === respId });
    // What a player would have played: the time since its first audio, at most what arrived.
    const played = Math.min(Date.now() - firstAudioAt, Math.floor(c.log.audioBytes(respId) / 48));
    c.rt.send({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: played });
    const truncated = await c.log.next('conversation.item.truncated', { from });
    const answer = await c.log.next('response.done', { from, pred: (e) => e.response.id !== respId });
    c.log.inOrder(['response.created', 'response.output_audio.delta', 'input_audio_buffer.speech_started',
      'input_audio_buffer.speech_stopped', 'input_audio_buffer.committed', 'response.done', 'response.created', 'response.done'], from);
    await done(c);
    return { conversationId: c.session.aitutor.conversationId, interrupted: interrupted.ev.response.status,
      reason: interrupted.ev.response.status_details?.reason, turnId: interrupted.ev.response.aitutor?.turnId,
      fullTranscript: interrupted.ev.response.output[0].content[0].transcript, audioEndMs: truncated.ev.audio_end_ms,
      answer: answer.ev.response.status, errors: c.errors, types: c.log.types() };
  },

  // Typed turns until the membership runs out: the refusal is an error event, the session stays.
  async quota() {
    const c = await connect();
    let answered = 0;
    for (let i = 0; i < 10; i++) {
      const from = c.log.events.length;
      const errorsBefore = c.errors.length;
      say(c.rt, `Question number ${i + 1}: what should I cook tonight?`);
      const outcome = await Promise.race([
        c.log.next('response.done', { from }).then(() => 'answered'),
        c.log.next('error', { from }).then(() => 'refused'),
      ]);
      if (outcome === 'refused') {
        check(c.errors.length > errorsBefore, 'the error event did not reach the error listener');
        break;
      }
      answered++;
    }
    const err = c.errors[c.errors.length - 1];
    // The session is still open: a bad event gets its own error.
    const from = c.log.events.length;
    c.rt.send({ type: 'no.such.event', event_id: 'evt_bad' });
    const bad = await c.log.next('error', { from });
    await done(c);
    return { answered, error: err, unknown: bad.ev.error, remaining: remaining(c.log), types: c.log.types() };
  },

  // A conversation continued in a new connection (AITUTOR_CONVERSATION).
  async resume() {
    const c = await connect({ conversation: config.conversation });
    const from = c.log.events.length;
    say(c.rt, 'Do you remember what I told you before?');
    const { ev } = await c.log.next('response.done', { from });
    await done(c);
    return { session: c.session.aitutor, status: ev.response.status, errors: c.errors };
  },
};

run(scenarios);
