// A small event log on window.aitutorDebug, for people debugging a session in the browser
// console and for the browser tests: protocol events, barge-ins and audio statistics.

const MAX_EVENTS = 1000;

const state = {
  events: [],
  probes: {},
};

/** log records an event {type, t (ms since page load), ...detail}. */
export function log(type, detail = {}) {
  state.events.push({ type, t: Math.round(performance.now()), ...detail });
  if (state.events.length > MAX_EVENTS) state.events.splice(0, state.events.length - MAX_EVENTS);
}

/** probe exposes a live value under window.aitutorDebug.<name> (a getter). */
export function probe(name, getter) {
  Object.defineProperty(state.probes, name, { get: getter, enumerable: true, configurable: true });
}

/** reset forgets the events and probes (a new tutor page). */
export function reset() {
  state.events = [];
  state.probes = {};
}

window.aitutorDebug = {
  get events() {
    return state.events;
  },
  /** count of events of a type. */
  count(type) {
    return state.events.filter((e) => e.type === type).length;
  },
  get probes() {
    return state.probes;
  },
};
