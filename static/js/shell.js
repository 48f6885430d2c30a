// What every page starts with: the header, the page's <main>, translated text.

import { h } from "./dom.js";
import { translate } from "./i18n.js";
import { mountHeader } from "./ui/header.js";

export function pageShell(pageNameKey) {
  const header = mountHeader(pageNameKey);
  let main = document.querySelector("main");
  if (!main) {
    main = h("main", { class: "main" });
    document.body.append(main);
  }
  translate(document);
  return { header, main };
}

export function exposeForTests(name, value) {
  window.kengash = { ...(window.kengash || {}), [name]: value };
}
