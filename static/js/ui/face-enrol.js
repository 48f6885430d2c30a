// The secretariat's Face ID screen on /clerk: pick a deputy (enrolled or not, shown),
// add 1 to 5 photos (files, or the camera), and enrol them (POST
// /api/deputies/{id}/face; a re-enrolment replaces the samples). Each photo shows the
// face box the server found, or why it was refused; "Remove" (after a confirmation)
// deletes the deputy's Face ID.

import { getJSON, request } from "../api.js";
import { CameraError } from "../camera.js";
import { h, tx } from "../dom.js";
import { formatTime } from "../i18n.js";
import { faceCamera } from "./face-camera.js";
import { messageArea, perform } from "./feedback.js";

export const MAX_PHOTOS = 5;
const REFUSALS = new Set(["no_face", "several_faces", "bad_image", "image_too_large"]);

function usersUrl(user) {
  return user.role === "secretary" && user.council_id
    ? `/api/users?${new URLSearchParams({ council: user.council_id })}`
    : "/api/users";
}

function readFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

/** The face box over a thumbnail, in percent of the image the server decoded. */
function faceBox(face) {
  const [left, top, right, bottom] = face.box;
  const pct = (value, of) => `${((100 * value) / of).toFixed(2)}%`;
  return h("span", {
    class: "face-box",
    "data-testid": "face-box",
    style:
      `left: ${pct(left, face.width)}; top: ${pct(top, face.height)}; ` +
      `width: ${pct(right - left, face.width)}; height: ${pct(bottom - top, face.height)}`,
  });
}

/** The Face ID part: `auth` is the page's {token, user}; `onChanged()` after a change. */
export function faceEnrolPanel({ auth, onChanged = () => {} }) {
  const message = messageArea();
  const deputies = new Map(); // deputy id → {id, name, login, face: status | null}
  let photos = []; // {data (base64), url, face?, refused?}
  let confirming = false;

  const picker = h("select", {
    class: "input",
    "data-testid": "face-deputy",
    "data-i18n-aria-label": "face.enrol.deputy",
    onchange: () => {
      photos = [];
      confirming = false;
      message.clear();
      render();
    },
  });
  const status = h("p", { class: "status-line", "data-testid": "face-status" });
  const thumbs = h("div", { class: "face-photos", "data-testid": "face-photos" });
  const files = h("input", {
    type: "file",
    class: "face-files",
    accept: "image/jpeg,image/png",
    multiple: true,
    "data-testid": "face-files",
    "data-i18n-aria-label": "face.enrol.add_files",
    onchange: () => addFiles(),
  });
  const camera = faceCamera({ onRetry: () => takePhoto() });
  const actions = h("div", { class: "button-row" });
  const el = h(
    "section",
    { class: "card card-wide face-enrol", "data-testid": "face-enrol" },
    h("h2", { class: "card-title", "data-i18n": "face.enrol.title" }),
    h("p", { class: "field-hint", "data-i18n": "face.enrol.hint" }),
    h(
      "label",
      { class: "field" },
      h("span", { class: "field-label", "data-i18n": "face.enrol.deputy" }),
      picker,
    ),
    status,
    message.el,
    thumbs,
    camera.el,
    actions,
  );

  const selected = () => deputies.get(Number(picker.value)) || null;

  const optionLabel = (deputy) => (deputy.face?.enrolled ? `${deputy.name} ✓` : deputy.name);

  function renderPicker() {
    const chosen = picker.value;
    picker.replaceChildren(
      h("option", { value: "", "data-i18n": "face.enrol.choose" }),
      ...[...deputies.values()].map((deputy) =>
        h(
          "option",
          {
            value: String(deputy.id),
            "data-login": deputy.login,
            "data-enrolled": String(Boolean(deputy.face?.enrolled)),
          },
          optionLabel(deputy),
        ),
      ),
    );
    picker.value = chosen;
  }

  function renderStatus(deputy) {
    const face = deputy?.face;
    status.hidden = !deputy;
    status.dataset.enrolled = String(Boolean(face?.enrolled));
    status.classList.toggle("ok", Boolean(face?.enrolled));
    status.replaceChildren(
      !deputy
        ? ""
        : face?.enrolled
          ? tx("face.enrol.status.enrolled", {
              date: formatTime(face.enrolled_at),
              n: face.samples,
            })
          : tx("face.enrol.status.none"),
    );
  }

  function photoItem(photo, index) {
    const state = photo.refused ? "refused" : photo.face ? "face" : "new";
    return h(
      "figure",
      {
        class: ["face-photo", `face-photo-${state}`],
        "data-testid": "face-photo",
        "data-index": index,
        "data-state": state,
        "data-reason": photo.refused || "",
      },
      h(
        "span",
        { class: "face-thumb" },
        h("img", { src: photo.url, alt: "", class: "face-thumb-img" }),
        photo.face ? faceBox(photo.face) : null,
      ),
      h(
        "figcaption",
        { class: "face-caption" },
        photo.refused
          ? h("span", {
              class: "face-refusal",
              "data-testid": "face-photo-reason",
              "data-i18n": `face.photo.${photo.refused}`,
            })
          : null,
        h("button", {
          class: "btn btn-ghost btn-small",
          type: "button",
          "data-testid": "face-photo-drop",
          "data-i18n": "face.enrol.drop_photo",
          onclick: () => {
            photos.splice(index, 1);
            render();
          },
        }),
      ),
    );
  }

  function button(testid, key, onclick, extra = "") {
    return h("button", {
      class: ["btn", extra || "btn-primary"],
      type: "button",
      "data-testid": testid,
      "data-i18n": key,
      onclick,
    });
  }

  function renderActions(deputy) {
    if (!deputy) {
      actions.replaceChildren();
      return;
    }
    const enrolled = Boolean(deputy.face?.enrolled);
    const full = photos.length >= MAX_PHOTOS;
    const add = h(
      "label",
      { class: ["btn", "btn-ghost", "face-add", full && "disabled"] },
      h("span", { "data-i18n": "face.enrol.add_files" }),
      files,
    );
    files.disabled = full;
    const take = button("face-take-photo", "face.enrol.take_photo", () => takePhoto(), "btn-ghost");
    take.disabled = full;
    const submit = button(
      "face-enrol-submit",
      enrolled ? "face.enrol.reenrol" : "face.enrol.enrol",
      (event) => enrol(event.currentTarget),
    );
    submit.disabled = !photos.length || photos.every((p) => p.face);
    const parts = [add, take, submit];
    const askRemove = () => {
      confirming = true;
      render();
    };
    const cancel = () => {
      confirming = false;
      render();
    };
    if (enrolled && !confirming) {
      parts.push(button("face-remove", "face.enrol.remove", askRemove, "btn-danger"));
    }
    actions.replaceChildren(...parts);
    if (enrolled && confirming) {
      const confirm = button(
        "face-remove-confirm",
        "face.enrol.remove",
        (event) => remove(event.currentTarget),
        "btn-danger",
      );
      actions.append(
        h(
          "div",
          { class: "end-confirm", "data-testid": "face-remove-confirmation" },
          tx("face.enrol.remove_question", { name: deputy.name }),
          h(
            "div",
            { class: "button-row" },
            confirm,
            button("face-remove-cancel", "face.enrol.cancel", cancel, "btn-ghost"),
          ),
        ),
      );
    }
  }

  function render() {
    const deputy = selected();
    renderStatus(deputy);
    thumbs.replaceChildren(...photos.map(photoItem));
    thumbs.hidden = !deputy;
    renderActions(deputy);
  }

  function addPhoto(url) {
    if (photos.length >= MAX_PHOTOS) {
      message.info("face.enrol.max");
      return;
    }
    // A new set: the photos enrolled before are kept on the server, not in this set.
    photos = photos.filter((p) => !p.face);
    photos.push({ url, data: url.split(",", 2)[1] || "" });
  }

  async function addFiles() {
    const chosen = [...files.files];
    files.value = "";
    message.clear();
    for (const file of chosen) {
      try {
        addPhoto(await readFile(file));
      } catch (error) {
        message.error(error);
      }
    }
    render();
  }

  async function takePhoto() {
    message.clear();
    try {
      const data = await camera.snap();
      addPhoto(`data:image/jpeg;base64,${data}`);
      render();
    } catch (error) {
      if (!(error instanceof CameraError)) message.error(error);
    }
  }

  async function enrol(submit) {
    const deputy = selected();
    if (!deputy) return;
    for (const photo of photos) delete photo.refused;
    const path = `/api/deputies/${deputy.id}/face`;
    let refusal = null;
    const answer = await perform(submit, message, async () => {
      try {
        return await request("POST", path, {
          token: auth.token,
          body: { images: photos.map((p) => p.data) },
        });
      } catch (error) {
        if (REFUSALS.has(error.code) && photos[error.details?.index]) refusal = error;
        throw error;
      }
    });
    if (refusal) photos[refusal.details.index].refused = refusal.code;
    if (answer) {
      for (const face of answer.faces || []) {
        if (photos[face.index]) photos[face.index].face = face;
      }
      deputy.face = {
        deputy: deputy.id,
        enrolled: true,
        samples: answer.samples,
        enrolled_at: answer.enrolled_at,
      };
      renderPicker();
      message.info("face.enrol.done");
    }
    render();
    onChanged(deputy, answer);
  }

  async function remove(confirm) {
    const deputy = selected();
    if (!deputy) return;
    const path = `/api/deputies/${deputy.id}/face`;
    const done = await perform(confirm, message, async () => {
      await request("DELETE", path, { token: auth.token });
      return true;
    });
    confirming = false;
    if (done) {
      deputy.face = { deputy: deputy.id, enrolled: false, samples: 0, enrolled_at: null };
      photos = [];
      renderPicker();
      message.info("face.enrol.removed");
      onChanged(deputy, null);
    }
    render();
  }

  async function statusOf(deputy) {
    try {
      deputy.face = await getJSON(`/api/deputies/${deputy.id}/face`, { token: auth.token });
    } catch {
      deputy.face = null; // unknown: shown as not enrolled
    }
  }

  async function load() {
    let users;
    try {
      users = await getJSON(usersUrl(auth.user), { token: auth.token });
    } catch (error) {
      message.error(error);
      return;
    }
    deputies.clear();
    for (const user of users) {
      if (!user.deputy_id || user.removed) continue;
      deputies.set(user.deputy_id, {
        id: user.deputy_id,
        name: user.name,
        login: user.login,
        face: null,
      });
    }
    renderPicker();
    render();
    await Promise.all([...deputies.values()].map(statusOf));
    el.dataset.loaded = "true";
    renderPicker();
    render();
  }

  load();
  return { el, reload: load };
}
