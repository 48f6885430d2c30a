// What this tablet remembers about its own ballots, per vote and deputy, in
// localStorage: a reload or a reconnect keeps the receipt code of a secret ballot (it is
// needed to change the ballot and to find it in the published list). The choice is
// kept for named votes only: for a secret vote the tablet keeps just the receipt.

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
