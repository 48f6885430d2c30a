// The STUN and TURN servers a WHIP or WHEP endpoint names (RFC 9725 section 4.6):
// `Link: <stun:…>; rel="ice-server"` headers on its OPTIONS answer, read before the
// offer is made so that its candidates can go through TURN. None named, or the request
// failing: no servers (loopback and plain networks need none).

// One Link value: <url>; param="value"; …  (several are joined with commas by fetch).
// A parameter's value is a token or a quoted string (RFC 9110 section 5.6.4: \ escapes).
const LINK = /<([^>]*)>((?:\s*;\s*[a-zA-Z-]+\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^;,]*))*)/g;
const PARAM = /;\s*([a-zA-Z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;,]*))/g;

export function parseIceLinks(header) {
  const servers = [];
  for (const [, url, params] of (header || "").matchAll(LINK)) {
    const found = {};
    for (const [, name, quoted, bare] of params.matchAll(PARAM)) {
      found[name.toLowerCase()] =
        quoted !== undefined ? quoted.replace(/\\(.)/g, "$1") : bare.trim();
    }
    if (found.rel !== "ice-server" || !/^(stun|stuns|turn|turns):/.test(url)) continue;
    const server = { urls: url };
    if (found.username !== undefined) server.username = found.username;
    if (found.credential !== undefined) server.credential = found.credential;
    servers.push(server);
  }
  return servers;
}

export async function iceServersOf(endpoint) {
  try {
    const response = await fetch(endpoint, { method: "OPTIONS" });
    return parseIceLinks(response.headers.get("Link"));
  } catch {
    return [];
  }
}

// WHIP and WHEP here are not trickled: the offer goes with its candidates, once they are
// gathered (or after a few seconds, with those found by then).
const GATHERING_MS = 3000;

export function candidatesGathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, GATHERING_MS);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}
