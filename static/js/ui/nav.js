// Links between the pages for council members and staff; the current one is marked.

import { h } from "../dom.js";

const PAGES = [
  { href: "/deputy", key: "nav.deputy" },
  { href: "/chair", key: "nav.chair" },
  { href: "/clerk", key: "nav.clerk" },
  { href: "/operator", key: "nav.operator" },
];

export function pageNav(path = location.pathname) {
  return h(
    "nav",
    { class: "page-nav", "data-testid": "page-nav", "data-i18n-aria-label": "nav.label" },
    PAGES.map(({ href, key }) =>
      h("a", {
        href,
        class: "page-nav-link",
        "data-testid": `nav-${href.slice(1)}`,
        "aria-current": path === href || path === `/static${href}.html` ? "page" : null,
        "data-i18n": key,
      }),
    ),
  );
}
