// The OpenAI Agents SDK's Realtime session (@openai/agents-realtime) over its WebSocket
// transport against aitutor's /v1/realtime: the SDK sends its own session.update (semantic VAD,
// its transcription model, tracing), keeps its own history from our events (retrieving items
// after transcriptions and truncations) and interrupts replies itself when the learner speaks.
// Usage: node agents.mjs session; prints one JSON line. Run by server/realtime_node_test.go.
import { OpenAIRealtimeWebSocket, RealtimeAgent, RealtimeSession } from '@openai/agents-realtime';

import { EventLog, check, chunks, config, readWav, run, silence } from './common.mjs';

function url() {
  const u = new URL(config.baseURL.replace(/^http/, 'ws') + '/realtime');
  u.searchParams.set('model', 'gpt-realtime');
  if (config.membership) {
    u.searchParams.set('membershipId', config.membership);
  }
  return u.toString();
}

// once resolves on the session's next event name (after pred holds), or fails after timeoutMs.
function once(session, name, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${name} within ${timeoutMs} ms`)), timeoutMs);
    session.once(name, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

function sendPCM(session, pcm) {
  for (const c of chunks(pcm)) {
    // sendAudio takes an ArrayBuffer of exactly the chunk.
    session.sendAudio(c.buffer.slice(c.byteOffset, c.byteOffset + c.byteLength));
  }
}

function messages(history, role) {
  return history.filter((i) => i.type === 'message' && i.role === role);
}

function text(item) {
  return (item?.content ?? []).map((c) => c.transcript ?? c.text ?? '').join('');
}

const scenarios = {
  async session() {
    const agent = new RealtimeAgent({ name: 'Tutor', instructions: 'The learner is preparing a trip to Scotland.' });
    const transport = new OpenAIRealtimeWebSocket({ url: url() });
    const session = new RealtimeSession(agent, { transport, model: 'gpt-realtime' });
    const log = new EventLog();
    const errors = [];
    transport.on('*', (ev) => log.add(ev));
    session.on('error', (e) => errors.push(e.error?.error ?? e.error ?? e));
    let audioEvents = 0;
    session.on('audio', () => audioEvents++);
    let interruptions = 0;
    session.on('audio_interrupted', () => interruptions++);

    await session.connect({ apiKey: config.token, url: url() });
    await log.next('session.updated'); // the SDK's session.update was applied

    // A typed turn.
    let end = once(session, 'agent_end');
    session.sendMessage('Hello! What should I see in Edinburgh?');
    const [, , typedReply] = await end;
    check(typedReply.length > 0, 'agent_end without the reply text');

    // A spoken turn: the SDK's semantic VAD is the server's turn detection.
    end = once(session, 'agent_end');
    sendPCM(session, Buffer.concat([silence(300), readWav(config.wav), silence(1500)]));
    await end;
    await log.next('conversation.item.retrieved'); // the SDK fetched the transcribed item

    // Barge-in: speech over a long reply; the SDK interrupts and truncates the reply itself.
    const from = log.events.length;
    end = once(session, 'agent_end'); // the answer to the speech
    session.sendMessage('Tell me a long story about the Highlands.');
    const first = await log.next('response.output_audio.delta', { from });
    const respId = first.ev.response_id;
    await log.next('response.output_audio.delta', { from, pred: () => log.audioBytes(respId) >= 1.5 * 48000 });
    await new Promise((r) => setTimeout(r, 300));
    sendPCM(session, Buffer.concat([readWav(config.wav), silence(1500)]));
    const truncated = await log.next('conversation.item.truncated', { from });
    const interrupted = await log.next('response.done', { from, pred: (e) => e.response.id === respId });
    await log.next('response.done', { from, pred: (e) => e.response.id !== respId });
    await end;
    // Let the SDK's retrieve of the truncated item come back before reading its history.
    await log.next('conversation.item.retrieved', { from: log.events.indexOf(truncated.ev) });

    const history = session.history;
    const user = messages(history, 'user');
    const assistant = messages(history, 'assistant');
    const spokenItem = user.find((i) => i.content?.some((c) => c.type === 'input_audio'));
    session.close();
    check(log.invalid.length === 0, `events the SDK's schemas reject: ${JSON.stringify(log.invalid)}`);
    return {
      typedReply, audioEvents, interruptions, errors,
      spokenTranscript: text(spokenItem), userItems: user.length, assistantItems: assistant.length,
      interrupted: interrupted.ev.response.status, truncatedItem: truncated.ev.item_id, audioEndMs: truncated.ev.audio_end_ms,
      usage: session.usage?.outputTokens ?? null, types: log.types(),
    };
  },
};

run(scenarios);
