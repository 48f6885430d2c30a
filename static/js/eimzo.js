// The E-IMZO app on this device, through its local API (CAPIWS): a WebSocket on
// 127.0.0.1 per call, one JSON request `{plugin, name, arguments}` and one JSON answer
// `{success, reason?, …}`. The app asks the user for a key's password itself: the page
// never sees it. See docs/protocol.md "Signing in".

export const EIMZO_APP_URL = "wss://127.0.0.1:64443/service/cryptapi";
const CALL_TIMEOUT_MS = 5000; // connecting and quick calls
const PROMPT_TIMEOUT_MS = 10 * 60 * 1000; // load_key: the user types the password

/** The app does not answer on this device (not installed, not running). */
export class EimzoAppMissing extends Error {}

/** The app answered, and refused: `reason` is its text (often a Java exception). */
export class EimzoAppError extends Error {
  constructor(reason) {
    super(reason || "E-IMZO refused");
    this.reason = reason || "";
  }
  /** The user typed a wrong password for the key. */
  get wrongPassword() {
    return /BadPaddingException|password/i.test(this.reason);
  }
}

/** One call to the app; resolves its answer when `success` is true. */
export function callApp(message, { url = EIMZO_APP_URL, timeoutMs = CALL_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    let socket;
    let answered = false;
    try {
      socket = new WebSocket(url);
    } catch (error) {
      reject(new EimzoAppMissing(error.message));
      return;
    }
    const timer = setTimeout(() => {
      if (answered) return;
      answered = true;
      socket.close();
      reject(new EimzoAppMissing("E-IMZO did not answer"));
    }, timeoutMs);
    socket.onopen = () => socket.send(JSON.stringify(message));
    socket.onmessage = (event) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      socket.close();
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        reject(new EimzoAppError("unreadable answer"));
        return;
      }
      if (data && data.success === true) resolve(data);
      else reject(new EimzoAppError(data?.reason));
    };
    // Closed or failed before an answer: nobody listens there (the browser says no more).
    const gone = () => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      reject(new EimzoAppMissing("E-IMZO is not running"));
    };
    socket.onerror = gone;
    socket.onclose = gone;
  });
}

/**
 * Give the app this site's API keys ([domain, key, domain, key, …], from
 * GET /api/auth/methods): the app serves only the domains it has a key for.
 */
export async function installApiKeys(keys) {
  if (keys && keys.length) await callApp({ name: "apikey", arguments: keys });
}

// "cn=aliyev vali,o=…,1.2.860.3.16.1.2=3123…,validto=2027.12.01 10:00:00": a value may
// hold commas, so split only before the next "name=".
function parseAlias(alias) {
  const fields = {};
  for (const part of String(alias).split(/,(?=[a-z0-9.]+=)/i)) {
    const at = part.indexOf("=");
    if (at > 0) fields[part.slice(0, at).trim().toLowerCase()] = part.slice(at + 1).trim();
  }
  return fields;
}

function appDate(text) {
  // "2027.12.01 10:00:00", the app's local time
  if (!text) return null;
  const date = new Date(text.replace(/\./g, "-").replace(" ", "T"));
  return Number.isNaN(date.getTime()) ? null : date;
}

/**
 * The keys (PFX files) the app finds on this device:
 * [{id, name, pinfl, organisation, validTo: Date|null, expired, item}], `item` being what
 * load_key needs back. Keys without a PINFL or TIN are left out (no person's key).
 */
export async function listKeys(now = new Date()) {
  const answer = await callApp({ plugin: "pfx", name: "list_all_certificates" });
  return (answer.certificates || [])
    .map((item, index) => {
      const fields = parseAlias(item.alias);
      const validTo = appDate(fields.validto);
      return {
        id: `${item.disk}|${item.path}|${item.name}|${index}`,
        name: fields.cn || item.name,
        pinfl: fields["1.2.860.3.16.1.2"] || fields.pinfl || "",
        tin: fields["1.2.860.3.16.1.1"] || fields.inn || fields.uid || "",
        organisation: fields.o || "",
        validTo,
        expired: validTo !== null && validTo.getTime() < now.getTime(),
        item,
      };
    })
    .filter((key) => key.pinfl || key.tin);
}

/** Open a key; the app asks its password. Resolves the app's keyId. */
export async function loadKey(key) {
  const { disk, path, name, alias } = key.item;
  const answer = await callApp(
    { plugin: "pfx", name: "load_key", arguments: [disk, path, name, alias] },
    { timeoutMs: PROMPT_TIMEOUT_MS },
  );
  return answer.keyId;
}

function utf8Base64(text) {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** An attached PKCS#7 (standard base64) over `text`'s UTF-8 bytes, by the opened key. */
export async function signAttached(keyId, text) {
  const answer = await callApp(
    { plugin: "pkcs7", name: "create_pkcs7", arguments: [utf8Base64(text), keyId, "no"] },
    { timeoutMs: PROMPT_TIMEOUT_MS },
  );
  return answer.pkcs7_64;
}

/**
 * A detached PKCS#7 (standard base64) over bytes the caller gives as base64 (a
 * decision's canonical JSON, say), by the opened key: the signature holds no copy of
 * what it signs.
 */
export async function signDetached(keyId, data64) {
  const answer = await callApp(
    { plugin: "pkcs7", name: "create_pkcs7", arguments: [data64, keyId, "yes"] },
    { timeoutMs: PROMPT_TIMEOUT_MS },
  );
  return answer.pkcs7_64;
}

/** "••••••••••0123": only the last four digits of a PINFL are shown. */
export function maskPinfl(pinfl) {
  const text = String(pinfl || "");
  return text.length > 4 ? "•".repeat(text.length - 4) + text.slice(-4) : text;
}
