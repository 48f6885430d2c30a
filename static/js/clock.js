// The server's clock as seen from here: speech timers count from the server's
// `started_at`, so a tablet whose clock is off still shows the right time.

export class ServerClock {
  constructor() {
    this.offsetMs = 0; // server time minus local time
  }

  /** The server said it was `iso` at local time `localMs` (best guess: mid-round-trip). */
  sync(iso, localMs = Date.now()) {
    const server = Date.parse(iso);
    if (!Number.isNaN(server)) this.offsetMs = server - localMs;
  }

  now() {
    return Date.now() + this.offsetMs;
  }
}

/** Seconds elapsed since `iso` by the server's clock (never negative). */
export function secondsSince(clock, iso) {
  const started = Date.parse(iso);
  if (Number.isNaN(started)) return 0;
  return Math.max(0, (clock.now() - started) / 1000);
}

/** 75 → "01:15"; 3725 → "1:02:05". */
export function formatSeconds(total) {
  const s = Math.floor(Math.abs(total));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return (total < 0 ? "-" : "") + (h ? `${h}:${two(m)}:${two(sec)}` : `${two(m)}:${two(sec)}`);
}
