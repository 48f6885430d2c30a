// What the deputy tablet and the chair console share: sign in, check the role, pick
// the session, follow it live, and go back to sign-in when the token stops working.

import {
  currentAuth,
  restoreAuth,
  signInWithOneId,
  signOut,
  takeOneIdReturn,
} from "../auth.js";
import { h, keepFocus } from "../dom.js";
import { onLangChange, t } from "../i18n.js";
import { LiveClient, STATUS } from "../live.js";
import { activeSessions, defaultSession, rememberSession } from "../sessions.js";
import { exposeForTests, pageShell } from "../shell.js";
import { decisionNotice } from "../ui/decision-notice.js";
import { loginForm, oneIdErrorKey } from "../ui/login.js";
import { sessionPicker } from "../ui/session-picker.js";
import { startTimers } from "../ui/timer.js";

/**
 * Run a member page.
 * - pageNameKey: the page's name in the header
 * - allowed(user): whether this user may use the page; refusedKey: what to say if not
 * - build({auth, live, sessionId}) → {el, render(state)}: the page's console; render
 *   gets null until the first snapshot; an optional stop() runs when the console is left
 * - sessionsOf(user, token): the sessions to choose from (default: open and scheduled)
 * - logins: the quick sign-in buttons to offer
 * - withoutSession(auth) → elements to show when there is no sitting to follow (the
 *   clerk's sign-ins and audit trail do not need one)
 */
export function runMemberPage({
  pageNameKey,
  allowed,
  refusedKey,
  build,
  sessionsOf = activeSessions,
  logins = undefined,
  withoutSession = () => [],
}) {
  const { header, main } = pageShell(pageNameKey);
  let current = null; // {live, console, renderPicker}
  let refused = null; // the signed-in user this page is not for
  const clock = { now: () => (current ? current.live.clock.now() : Date.now()) };
  const tickNow = startTimers(clock);

  function stop() {
    current?.console.stop?.(); // the chair's broadcast ends with the console
    if (current) current.live.stop();
    current = null;
    refused = null;
  }

  function showLogin(noticeKey = null, errorKey = null) {
    stop();
    header.setUser(null);
    header.setLive(null);
    main.replaceChildren(
      h(
        "div",
        { class: "narrow" },
        loginForm({ onSignedIn: start, noticeKey, suggested: logins, errorKey }),
      ),
    );
    main.querySelector("[data-testid=login-input]")?.focus();
  }

  function logout() {
    signOut();
    showLogin();
  }

  function showMessage(attrs) {
    main.replaceChildren(h("p", { class: "placeholder", ...attrs }));
  }

  function showRefused() {
    main.replaceChildren(
      h(
        "section",
        { class: "card narrow", "data-testid": "refused" },
        h("p", {
          "data-i18n": refusedKey,
          "data-i18n-args": { role: t(`role.${refused.role}`) },
        }),
        h("button", { class: "btn btn-primary", "data-i18n": "auth.logout", onclick: logout }),
      ),
    );
  }

  async function start(auth) {
    stop();
    header.setUser(auth, logout);
    if (!allowed(auth.user)) {
      refused = auth.user;
      showRefused();
      return;
    }
    showMessage({ "data-i18n": "loading" });
    let sessions;
    try {
      sessions = await sessionsOf(auth.user, auth.token);
    } catch (error) {
      showMessage({ "data-i18n": "load_error", "data-i18n-args": { message: error.message } });
      return;
    }
    const chosen = defaultSession(sessions);
    if (chosen) follow(auth, sessions, chosen.id);
    else {
      showMessage({ "data-testid": "no-session", "data-i18n": "session.none" });
      main.append(...withoutSession(auth));
    }
  }

  function follow(auth, sessions, sessionId) {
    stop();
    rememberSession(sessionId);
    const live = new LiveClient({ token: auth.token });
    const console_ = build({ auth, live, sessionId });
    const picker = h("div");
    const renderPicker = () =>
      picker.replaceChildren(
        sessions.length > 1
          ? sessionPicker(sessions, sessionId, (id) => follow(auth, sessions, id))
          : "",
      );
    const notice = decisionNotice(live); // "Decision No. X adopted", on every member page
    current = { live, console: console_, renderPicker };
    exposeForTests("live", live);
    header.setLive(live);
    renderPicker();
    main.replaceChildren(picker, notice.el, console_.el);
    const render = () => {
      if (current?.live !== live) return;
      keepFocus(main, () => console_.render(live.state));
      tickNow();
    };
    live.addEventListener("state", render);
    live.addEventListener("status", () => {
      if (live.status === STATUS.UNAUTHORIZED) {
        signOut({ ended: true });
        showLogin("login.expired");
      }
    });
    render();
    live.watch(sessionId);
  }

  onLangChange(() => {
    if (refused) showRefused();
    if (current) {
      current.renderPicker();
      current.console.render(current.live.state);
      tickNow();
    }
  });

  // Back from One ID: redeem the hand-over code, or say why One ID's sign-in failed.
  const returned = takeOneIdReturn();
  if (returned?.code) {
    showMessage({ "data-testid": "oneid-signing-in", "data-i18n": "login.oneid.signing_in" });
    signInWithOneId(returned.code).then(start, (error) =>
      showLogin(null, oneIdErrorKey(error.code)),
    );
  } else if (returned) showLogin(null, oneIdErrorKey(returned.error));
  else if (!currentAuth()) showLogin();
  else restoreAuth().then((auth) => (auth ? start(auth) : showLogin("login.expired")));
}
