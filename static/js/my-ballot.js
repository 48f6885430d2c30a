// What this tablet knows about its own ballots. It remembers, per vote and deputy, in
// localStorage: whether its ballot was counted (acknowledged), the receipt code of a
// secret ballot (needed to change the ballot and to find it in the published list; a
// reload or a reconnect keeps it) and, for named votes only, the choice. And it can ask
// the server (GET /api/votes/{id}/mine) whether its deputy has voted, say from another
// device: the live events say how many have voted, never who.

import { getJSON } from "./api.js";
import { drawReceipt } from "./receipt.js";

const key = (voteId, deputyId) => `kengash.ballot.${voteId}.${deputyId}`;

export function myBallot(voteId, deputyId) {
  try {
    return JSON.parse(localStorage.getItem(key(voteId, deputyId)) || "null") || {};
  } catch {
    return {};
  }
}

function save(voteId, deputyId, ballot) {
  try {
    localStorage.setItem(key(voteId, deputyId), JSON.stringify(ballot));
  } catch {
    // storage disabled: the code lives as long as the page (it is still shown)
  }
}

export function rememberBallot(voteId, deputyId, changes) {
  const ballot = { ...myBallot(voteId, deputyId), ...changes };
  save(voteId, deputyId, ballot);
  return ballot;
}

/** The tablet's receipt for this vote, drawn and stored before first use. */
export function receiptFor(voteId, deputyId) {
  const stored = myBallot(voteId, deputyId).receipt;
  return stored || rememberBallot(voteId, deputyId, { receipt: drawReceipt() }).receipt;
}

/** The stored code was already in the ballot box (`receipt_taken`): draw another. */
export function redrawReceipt(voteId, deputyId) {
  return rememberBallot(voteId, deputyId, { receipt: drawReceipt() }).receipt;
}

/** {vote, voted, choice?} from the server; the choice only for a named vote. */
export async function askServer(voteId, token) {
  return getJSON(`/api/votes/${voteId}/mine`, { token });
}
