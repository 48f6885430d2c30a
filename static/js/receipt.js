// Receipt codes of secret ballots: 16 characters of Crockford base32 (80 random bits),
// drawn here on the tablet, never by the server (docs/protocol.md "vote.cast").

export const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const LENGTH = 16;

/** A fresh receipt code from the browser's cryptographic random source. */
export function drawReceipt() {
  const bytes = crypto.getRandomValues(new Uint8Array(LENGTH));
  // 256 is a multiple of 32: the low five bits of a random byte are uniform.
  return Array.from(bytes, (b) => ALPHABET[b & 31]).join("");
}

export function isReceipt(code) {
  return typeof code === "string" && /^[0-9A-HJKMNP-TV-Z]{16}$/.test(code);
}

/** As people copy it: upper case, no spaces or dashes, O→0 and I/L→1 (Crockford). */
export function normalizeReceipt(text) {
  return String(text || "")
    .toUpperCase()
    .replace(/[\s-]/g, "")
    .replace(/O/g, "0")
    .replace(/[IL]/g, "1");
}

/** "0123456789ABCDEF" → "0123 4567 89AB CDEF": easier to read aloud and compare. */
export function groupReceipt(code) {
  return String(code || "").replace(/(.{4})(?=.)/g, "$1 ");
}
