// A session's state as a fold of its event log: the mirror of
// session_server/live/state.py. Every event carries the new value of each state
// section it changes, so applying an event is replacing sections. Pure: no I/O.

// The state sections; an event key with one of these names replaces that section.
export const SECTIONS = Object.freeze([
  "session",
  "council",
  "rules",
  "deputies",
  "agenda",
  "attendance",
  "speakers",
  "vote", // the current or latest vote of the sitting
  "votes", // every vote of the sitting, in short
  "broadcast", // on air or not: {live, source, since}
  "audience", // how many watch: {watching, webrtc, hls}
]);

export class OutOfOrder extends Error {
  constructor(seq, after) {
    super(`event ${seq} does not follow ${after}`);
    this.seq = seq;
    this.after = after;
  }
}

export function initialState() {
  const state = { seq: 0 };
  for (const name of SECTIONS) state[name] = null;
  return state;
}

/** The state after `event`, which must be the next one (seq === state.seq + 1). */
export function apply(state, seq, event) {
  if (seq !== state.seq + 1) throw new OutOfOrder(seq, state.seq);
  const next = { ...state };
  for (const name of SECTIONS) {
    if (Object.prototype.hasOwnProperty.call(event, name)) next[name] = event[name];
  }
  next.seq = seq;
  return next;
}

/** The state a snapshot frame describes: its sections at its seq. */
export function fromSnapshot(seq, snapshot) {
  const state = initialState();
  for (const name of SECTIONS) {
    if (Object.prototype.hasOwnProperty.call(snapshot, name)) state[name] = snapshot[name];
  }
  state.seq = seq;
  return state;
}
