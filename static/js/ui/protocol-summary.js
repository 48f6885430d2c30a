// A vote's protocol as the clerk sees it before downloading: the agenda item, the
// times, and the counted result (from GET /api/votes/{id}), with the download links
// (PDF, JSON, CSV).

import { getJSON } from "../api.js";
import { protocolPdf } from "../decisions.js";
import { h, tx } from "../dom.js";
import { formatTime } from "../i18n.js";
import { voteHeading } from "./vote-heading.js";
import { resultPanel } from "./vote-result.js";

const records = new Map(); // "id:state:result" → the vote record, a Promise, or an Error

/** The protocol's downloads; the PDF in the interface language (re-render on a change). */
export function downloadLinks(voteId) {
  const link = (ext, key) =>
    h(
      "a",
      {
        class: "btn btn-ghost btn-download",
        href: ext === "pdf" ? protocolPdf(voteId) : `/api/votes/${voteId}/protocol.${ext}`,
        download: `vote-${voteId}.${ext}`,
        "data-testid": `protocol-${ext}-${voteId}`,
      },
      h("span", { class: "download-icon", "aria-hidden": "true" }, "⤓"),
      h("span", { "data-i18n": key }),
    );
  return h(
    "p",
    { class: "button-row downloads" },
    link("pdf", "clerk.protocol_pdf"),
    link("json", "clerk.protocol_json"),
    link("csv", "clerk.protocol_csv"),
  );
}

function summary(record, state) {
  return [
    h(
      "dl",
      { class: "facts" },
      h("dt", { "data-i18n": "clerk.item" }),
      h("dd", {}, record.item ? `${record.item.position}. ${record.item.title}` : ""),
      h("dt", { "data-i18n": "clerk.opened" }),
      h("dd", {}, formatTime(record.opened_at)),
      h("dt", { "data-i18n": "clerk.closed" }),
      h("dd", {}, formatTime(record.closed_at)),
    ),
    record.state === "cancelled"
      ? tx("vote.cancelled_reason", { reason: record.cancel_reason || "" }, "p", {
          class: "notice",
        })
      : resultPanel(record, state, { heading: false, ballots: false }),
  ];
}

/** `entry` is a line of the state's `votes`; `rerender()` runs once its record loads. */
export function protocolCard(entry, state, rerender) {
  const key = `${entry.id}:${entry.state}:${entry.result}`;
  const final = ["closed", "cancelled"].includes(entry.state);
  let body;
  if (!final) {
    body = h("p", { class: "muted", "data-i18n": "clerk.not_final" });
  } else {
    const record = records.get(key);
    if (!record) {
      records.set(
        key,
        getJSON(`/api/votes/${entry.id}`)
          .then((r) => records.set(key, r))
          .catch((error) => records.set(key, error))
          .finally(rerender),
      );
    }
    if (!record || record instanceof Promise)
      body = h("p", { class: "muted", "data-i18n": "loading" });
    else if (record instanceof Error) {
      body = h("p", { class: "form-error", "data-i18n": "vote.load_failed" });
    } else body = summary(record, state);
  }
  return h(
    "article",
    {
      class: "card protocol-card",
      "data-testid": `clerk-vote-${entry.id}`,
      "data-vote": entry.id,
      "data-state": entry.state,
    },
    voteHeading({ ...entry, rule: null }, { level: "h3", rule: false }),
    body,
    final ? downloadLinks(entry.id) : null,
  );
}
