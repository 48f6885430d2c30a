// Deputies' names from the state's roster (state.deputies), by id.

import { t } from "../i18n.js";

export function deputyName(state, id) {
  const deputy = (state.deputies || []).find((d) => d.id === id);
  return deputy ? deputy.name : t("deputy.unknown", { id });
}
