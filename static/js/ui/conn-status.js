// The connection status pill, following a LiveClient.

import { h } from "../dom.js";
import { t } from "../i18n.js";

export function connStatus(live) {
  const pill = h("span", { class: "conn", "data-testid": "conn-status", role: "status" });
  const show = () => {
    pill.dataset.status = live.status;
    pill.dataset.i18n = `conn.${live.status}`;
    pill.textContent = t(pill.dataset.i18n);
  };
  live.addEventListener("status", show);
  show();
  return pill;
}
