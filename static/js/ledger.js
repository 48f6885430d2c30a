// The public ledger, checked in the browser with WebCrypto (SHA-256, Ed25519): RFC 8785
// canonical JSON, RFC 9162 leaf and node hashes and inclusion proofs, C2SP signed-note
// checkpoints and their verifier keys. A decision's check (`verifyDecision`) rebuilds
// its ledger entry from GET /api/decisions/{id}, so the server is trusted for nothing
// but the key that signs its checkpoints. Pure apart from the `fetchFn` handed in.
//
// Every failure is a LedgerError whose `code` names it, for the page to say in words.

export class LedgerError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

const encoder = new TextEncoder();
const HASH_SIZE = 32;
const ED25519 = 0x01; // the signed-note signature type of Ed25519
const SIGNATURE_PREFIX = "\u2014 "; // em dash, then a space
const MAX_SIGNATURES = 100;

// -- bytes ----------------------------------------------------------------------------

export function utf8(text) {
  return encoder.encode(text);
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i += 1) diff |= a[i] ^ b[i];
  return diff === 0;
}

export function toBase64(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** Standard base64 that must be canonical (encoding the bytes again gives the text). */
export function fromBase64(text, code = "bad_base64") {
  if (typeof text !== "string" || text.length % 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new LedgerError(code, "not base64");
  }
  const binary = atob(text);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  if (toBase64(bytes) !== text) throw new LedgerError(code, "not canonical base64");
  return bytes;
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// -- RFC 8785 canonical JSON ------------------------------------------------------------

/**
 * RFC 8785 (JCS) for what ledger entries hold: objects (keys sorted by UTF-16 code
 * units, which is how JavaScript compares strings), arrays, strings (as JSON.stringify
 * writes them, as the RFC says), integers, booleans and null. Fractions, non-finite
 * numbers and integers beyond 2^53 - 1 are refused rather than guessed at.
 */
export function canonicalJson(value) {
  if (value === null || typeof value === "boolean") return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new LedgerError("not_canonical", "non-finite number");
    if (!Number.isSafeInteger(value)) {
      throw new LedgerError("not_canonical", `${value}: only integers up to 2^53 - 1`);
    }
    return String(value); // -0 is "0", as the RFC has it
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  throw new LedgerError("not_canonical", `${typeof value} has no JSON form`);
}

export function canonicalBytes(value) {
  return utf8(canonicalJson(value));
}

// -- RFC 9162 hashes and inclusion proofs -----------------------------------------------

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/** SHA-256(0x00 || bytes): the hash of one ledger entry. */
export function leafHash(bytes) {
  return sha256(concat(Uint8Array.of(0x00), bytes));
}

/** SHA-256(0x01 || left || right): an interior node. */
export function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(0x01), left, right));
}

function checkCount(value, what) {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new LedgerError("bad_proof", `${what} ${value} is not a count`);
  }
}

/**
 * The root that `proof` (the audit path, the leaf's sibling first) implies for the leaf
 * `leaf` at `index` in a tree of `size` leaves: RFC 9162 §2.1.3.2. Throws
 * LedgerError("bad_proof") when the proof is too long or too short for the tree.
 * (Halving by division, not bit shifts: these are not 32-bit numbers.)
 */
export async function rootFromInclusion(index, size, leaf, proof) {
  checkCount(index, "leaf index");
  checkCount(size, "tree size");
  if (index >= size)
    throw new LedgerError("bad_proof", `leaf ${index} is not in a tree of ${size}`);
  for (const hash of [leaf, ...proof]) {
    if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE) {
      throw new LedgerError("bad_proof", "a hash is not 32 bytes");
    }
  }
  const odd = (n) => n % 2 === 1;
  const half = (n) => Math.floor(n / 2);
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new LedgerError("bad_proof", "the proof is longer than the tree is deep");
    if (odd(fn) || fn === sn) {
      r = await nodeHash(p, r);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new LedgerError("bad_proof", "the proof is shorter than the tree is deep");
  return r;
}

// -- C2SP signed notes and checkpoints -----------------------------------------------

function validKeyName(name) {
  return Boolean(name) && !name.includes("+") && !/\s/u.test(name);
}

function uint32(bytes) {
  return ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
}

/** The key ID of an Ed25519 note key: SHA-256(name || 0x0A || 0x01 || key), 4 bytes. */
export async function keyId(name, publicKey) {
  const digest = await sha256(concat(utf8(`${name}\n`), Uint8Array.of(ED25519), publicKey));
  return uint32(digest);
}

/**
 * A verifier key "name+hex8+base64(0x01 || 32-byte key)" (one line; a trailing newline
 * is allowed) → {name, keyId, publicKey}. The key ID must be the key's.
 */
export async function parseVkey(text) {
  const line = String(text).replace(/\r?\n$/, "");
  const first = line.indexOf("+");
  const second = first < 0 ? -1 : line.indexOf("+", first + 1);
  if (second < 0) throw new LedgerError("bad_vkey", "a verifier key is name+keyid+key");
  const name = line.slice(0, first);
  const hex = line.slice(first + 1, second);
  if (!validKeyName(name)) throw new LedgerError("bad_vkey", `bad key name ${name}`);
  if (!/^[0-9a-fA-F]{8}$/.test(hex))
    throw new LedgerError("bad_vkey", "the key ID is 8 hex digits");
  const raw = fromBase64(line.slice(second + 1), "bad_vkey");
  if (raw.length !== 33 || raw[0] !== ED25519) {
    throw new LedgerError("bad_vkey", "not an Ed25519 key");
  }
  const publicKey = raw.slice(1);
  const id = parseInt(hex, 16);
  if ((await keyId(name, publicKey)) !== id) {
    throw new LedgerError("vkey_mismatch", "the key ID is not the key's");
  }
  return { name, keyId: id, publicKey };
}

/**
 * A checkpoint note, parsed and not yet verified: {text (the signed body, its final
 * newline included), origin, size, root, extensions, signatures: [{name, keyId,
 * signature}]}. Strict, like the server's parser: one tree head has one text.
 */
export function parseCheckpoint(noteText) {
  const note = String(noteText);
  const fail = (message) => {
    throw new LedgerError("bad_checkpoint", message);
  };
  if (!note.endsWith("\n")) fail("a note ends with a newline");
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) fail("a control character in the note");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) fail("the note has no signatures");
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (!block) fail("the note has no signatures");
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) fail("too many signatures");
  const signatures = lines.map((line) => {
    if (!line.startsWith(SIGNATURE_PREFIX)) fail("a malformed signature line");
    const rest = line.slice(SIGNATURE_PREFIX.length);
    const space = rest.indexOf(" ");
    const name = space < 0 ? "" : rest.slice(0, space);
    if (!validKeyName(name)) fail("a malformed signature line");
    const raw = fromBase64(rest.slice(space + 1), "bad_checkpoint");
    if (raw.length < 5) fail("a signature is too short");
    return { name, keyId: uint32(raw), signature: raw.slice(4) };
  });
  const body = text.slice(0, -1).split("\n");
  if (body.length < 3) fail("a checkpoint has origin, size and root lines");
  const [origin, sizeText, rootText, ...extensions] = body;
  if (!origin) fail("the origin is empty");
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) fail(`malformed tree size ${sizeText}`);
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) fail(`tree size ${sizeText} is too large for this page`);
  const root = fromBase64(rootText, "bad_checkpoint");
  if (root.length !== HASH_SIZE) fail("the root hash is not 32 bytes");
  if (extensions.some((line) => !line)) fail("an empty extension line");
  return { text, origin, size, root, extensions, signatures };
}

let ed25519Supported = null;

async function importEd25519(publicKey) {
  try {
    return await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  } catch (error) {
    ed25519Supported = false;
    throw new LedgerError("no_ed25519", `this browser cannot check Ed25519: ${error.message}`);
  }
}

/** Whether this browser's WebCrypto has Ed25519 (false once an import failed). */
export function hasEd25519() {
  return ed25519Supported !== false && Boolean(globalThis.crypto?.subtle);
}

/**
 * Check a checkpoint note's signature by `vkey` (the key's text, or parseVkey's
 * answer): → {origin, size, root, extensions, signer}. Signatures by other keys are
 * skipped (the spec says so); a bad one by this key, or none by it, is a LedgerError.
 */
export async function verifyCheckpoint(note, vkey) {
  const verifier = typeof vkey === "string" ? await parseVkey(vkey) : vkey;
  const checkpoint = parseCheckpoint(note);
  const ours = checkpoint.signatures.filter(
    (s) => s.name === verifier.name && s.keyId === verifier.keyId,
  );
  if (!ours.length) {
    throw new LedgerError("unsigned", `no signature by ${verifier.name} on the checkpoint`);
  }
  const key = await importEd25519(verifier.publicKey);
  const message = utf8(checkpoint.text);
  for (const { signature } of ours) {
    const good =
      signature.length === 64 &&
      (await crypto.subtle.verify({ name: "Ed25519" }, key, signature, message));
    if (!good) throw new LedgerError("bad_signature", "the checkpoint's signature is not valid");
  }
  const { origin, size, root, extensions } = checkpoint;
  return { origin, size, root, extensions, signer: verifier.name };
}

// -- a decision, checked end to end ------------------------------------------------------

export const DECISION_ENTRY = "kengash.decision/v1";

/** A decision's ledger entry, rebuilt from GET /api/decisions/{id} (what the chair signs). */
export function decisionEntry(d) {
  return {
    type: DECISION_ENTRY,
    id: d.id,
    council: { id: d.council.id, name: d.council.name },
    session: { id: d.session.id, number: d.session.number },
    item: d.item.id,
    vote: d.vote.id,
    number: d.number,
    title: d.title,
    text: d.text,
    adopted_on: d.adopted_on,
    adopted_at: d.adopted_at,
  };
}

async function fetchText(fetchFn, path) {
  let response;
  try {
    response = await fetchFn(path);
  } catch (error) {
    throw new LedgerError("network", error.message);
  }
  if (!response.ok) throw new LedgerError("http", `${path}: HTTP ${response.status}`);
  return response.text();
}

async function fetchJson(fetchFn, path) {
  const text = await fetchText(fetchFn, path);
  try {
    return JSON.parse(text);
  } catch {
    throw new LedgerError("http", `${path}: not JSON`);
  }
}

/**
 * The whole check of a decision as GET /api/decisions/{id} gave it: the ledger's key,
 * its checkpoint's signature, the decision's entry rebuilt here and hashed, its
 * inclusion proof up to the checkpoint's root. Never throws: resolves
 * {ok, pending?, code?, message?, steps: [{step, ok, ...facts, code?}], index?, size?,
 * signer?, origin?}, one step per stage reached, the failed one last.
 * `fetchFn(path)` is fetch (or a stand-in).
 */
export async function verifyDecision(decision, fetchFn = (path) => fetch(path)) {
  const steps = [];
  const report = { ok: false, steps };
  const index = decision?.ledger?.decision;
  if (index === null || index === undefined) {
    return { ...report, pending: true, code: "not_in_ledger" };
  }
  let current = null;
  const step = async (name, work) => {
    current = { step: name, ok: false };
    steps.push(current);
    Object.assign(current, await work());
    current.ok = true;
  };
  try {
    let verifier;
    let checkpoint;
    let leaf;
    await step("key", async () => {
      verifier = await parseVkey(await fetchText(fetchFn, "/ledger/vkey"));
      return { name: verifier.name, keyId: verifier.keyId.toString(16).padStart(8, "0") };
    });
    await step("checkpoint", async () => {
      checkpoint = await verifyCheckpoint(await fetchText(fetchFn, "/ledger/checkpoint"), verifier);
      return {
        origin: checkpoint.origin,
        size: checkpoint.size,
        root: toBase64(checkpoint.root),
        signer: checkpoint.signer,
      };
    });
    await step("entry", async () => {
      leaf = await leafHash(canonicalBytes(decisionEntry(decision)));
      return { leaf: toBase64(leaf) };
    });
    await step("inclusion", async () => {
      if (!Number.isSafeInteger(index) || index < 0) {
        throw new LedgerError("bad_proof", `entry ${index} is not an index`);
      }
      if (index >= checkpoint.size) {
        throw new LedgerError("not_in_checkpoint", `entry ${index} is past the checkpoint`);
      }
      const query = new URLSearchParams({ index: String(index), size: String(checkpoint.size) });
      const answer = await fetchJson(fetchFn, `/ledger/proof/inclusion?${query}`);
      if (!Array.isArray(answer?.proof)) throw new LedgerError("bad_proof", "no proof");
      const proof = answer.proof.map((hash) => fromBase64(hash, "bad_proof"));
      const root = await rootFromInclusion(index, checkpoint.size, leaf, proof);
      const facts = { index, size: checkpoint.size, root: toBase64(root) };
      if (!equalBytes(root, checkpoint.root)) {
        // The server's own leaf hash tells which side differs: the decision as shown, or
        // the proof.
        const entryDiffers =
          typeof answer.leaf_hash === "string" && answer.leaf_hash !== toBase64(leaf);
        Object.assign(current, facts);
        throw new LedgerError(
          entryDiffers ? "entry_mismatch" : "root_mismatch",
          entryDiffers
            ? "the decision shown is not the ledger's entry"
            : "the proof leads to another root than the checkpoint's",
        );
      }
      return facts;
    });
  } catch (error) {
    const code = error instanceof LedgerError ? error.code : "unexpected";
    if (current) Object.assign(current, { ok: false, code, message: error.message });
    return { ...report, code, message: error.message, failed: current?.step ?? null };
  }
  const checkpointStep = steps[1];
  return {
    ok: true,
    steps,
    index,
    size: checkpointStep.size,
    signer: checkpointStep.signer,
    origin: checkpointStep.origin,
  };
}
