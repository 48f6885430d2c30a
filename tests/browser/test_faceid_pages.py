"""Face ID on the pages, in a real browser with a fake camera: the secretary enrols a
deputy from photos on /clerk (a photo with two people is refused, its reason said in
the page's language); the deputy signs in, the council requires Face ID, the tablet
asks for the camera challenge, the deputy passes it and the tablet starts with a
face-verified sign-in; the chair opens a vote that wants a face with each ballot, the
deputy taps a choice, a fresh camera frame goes with the ballot and it is counted. With
someone else in front of the camera, the challenge fails with "does not match". Where
Face ID at sign-in is optional the deputy may skip it, and a `live` vote asks for one
action at the tap; a refused camera is said, with "Try again".

The camera: Chromium's fake device plays a Y4M file (tests/faces.py writes it from the
test photos). Chromium opens the file each time a page opens the camera (checked: a
file rewritten between two getUserMedia calls shows its new frames, from its first
frame on), so the test writes the frames for the challenge's actual actions when the
server has answered the challenge, before the page opens the camera: the page's
request goes through page.route, which hands the server's answer on unchanged."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy
import pytest
from playwright.sync_api import Browser, Route, expect

from session_server import demo
from tests.browser.helpers import DESKTOP, TABLET, Tab, chromium
from tests.browser.members import SESSION, Member, deputy_ids, register
from tests.conftest import Server, seed_demo, server_env, start_server
from tests.faces import challenge_frames, frontal_frame, photo, write_y4m

pytestmark = pytest.mark.browser

DEPUTY = demo.roster()[4]  # deputy05
LOGIN = "deputy05"
OTHERS = [f"deputy{n:02d}" for n in range(6, 24)]  # 18 more: a quorum of 35 with deputy05
# The fake device plays the file at its frame rate from the moment the page opens the
# camera. The page waits for the first picture (the file's frame 1, measured), counts
# 3-2-1 for three seconds, then takes a frame every 100 ms: the first one taken is about
# frame 31. So the person stays still for LEAD_IN frames, and the actions come a few
# frames late rather than early: the liveness check allows a person up to 5 frames of
# reaction time, but an action seen before its prompt fails (measured: 28 fails, 32 and
# 37 pass). A busy machine opens the camera more slowly, which makes the frames taken
# later in the file, hence the margin on that side.
FPS = 10
LEAD_IN = 34


def camera_args(path: Path) -> list[str]:
    return [
        "--use-fake-ui-for-media-stream",  # camera allowed without asking
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={path}",
    ]


def still(name: str, n: int) -> list[numpy.ndarray]:
    """`n` frames of the person looking at the camera, with a little sensor noise."""
    base = frontal_frame(name).astype(numpy.float32)
    rng = numpy.random.default_rng(n)
    return [
        numpy.clip(base + rng.normal(0, 2.0, base.shape), 0, 255).astype(numpy.uint8)
        for _ in range(n)
    ]


def doing(actions: Sequence[str], per_action: int, name: str) -> list[numpy.ndarray]:
    """What the camera shows from its opening on: still, then the actions, then still."""
    return [
        *still(name, LEAD_IN),
        *challenge_frames(actions, per_action, name=name),
        *still(name, 20),
    ]


class Camera:
    """The fake camera's file, and who is in front of it when a challenge comes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.person = "obama.jpg"
        self.challenges: list[dict[str, Any]] = []
        self.show(still(self.person, 20))

    def show(self, frames: Sequence[numpy.ndarray]) -> None:
        write_y4m(self.path, frames, fps=FPS)

    def on_challenge(self, route: Route) -> None:
        response = route.fetch()  # the server's own answer, passed on unchanged
        if response.ok:
            body = response.json()
            self.challenges.append(body)
            self.show(doing(body["actions"], body["frames_per_action"], self.person))
        route.fulfill(response=response)


@pytest.fixture
def face_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """The demo on SQLite, its council's reglament asking for Face ID: (face_signin,
    face_check_per_ballot), by default ("required", "match"), set in the seeded
    database before the server starts."""
    signin, per_ballot = getattr(request, "param", ("required", "match"))
    database = tmp_path / "kengash.db"
    url = f"sqlite+aiosqlite:///{database}"
    seed_demo(url)
    with sqlite3.connect(database) as db:
        (rules,) = db.execute("SELECT rules FROM councils WHERE id = 1").fetchone()
        face = {"face_signin": signin, "face_check_per_ballot": per_ballot}
        rules = {**json.loads(rules), **face}
        db.execute("UPDATE councils SET rules = ? WHERE id = 1", (json.dumps(rules),))
    server = start_server(server_env(url, tmp_path), tmp_path / "server.log")
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def camera(tmp_path: Path) -> Camera:
    return Camera(tmp_path / "camera.y4m")


@pytest.fixture
def browser(face_server: Server, camera: Camera) -> Iterator[Browser]:
    # After the server: it seeds with asyncio.run(), which cannot run while Playwright's
    # sync API holds an event loop.
    with chromium(camera_args(camera.path)) as b:
        yield b


@pytest.fixture
def tabs(browser: Browser, face_server: Server) -> Iterator[dict[str, Tab]]:
    opened = {
        "clerk": Tab(browser, face_server.url, DESKTOP),
        "chair": Tab(browser, face_server.url, DESKTOP),
        "deputy": Tab(browser, face_server.url, TABLET),
    }
    yield opened
    errors = {name: tab.errors for name, tab in opened.items() if tab.errors}
    for tab in opened.values():
        tab.close()
    assert not errors, f"script errors: {errors}"


def image(name: str, mime: str = "image/jpeg") -> dict[str, Any]:
    return {"name": name, "mimeType": mime, "buffer": photo(name)}


def enrol(clerk: Tab) -> None:
    """The secretary enrols deputy05 from two photos; a photo of two people is refused."""
    clerk.sign_in("/clerk", "secretary")
    panel = clerk.by("face-enrol")
    expect(panel).to_have_attribute("data-loaded", "true")
    option = panel.locator(f"option[data-login={LOGIN}]")
    expect(option).to_have_text(DEPUTY.full_name)
    panel.get_by_test_id("face-deputy").select_option(option.get_attribute("value"))
    status = panel.get_by_test_id("face-status")
    expect(status).to_have_attribute("data-enrolled", "false")
    expect(status).to_have_text("Yuz roʻyxatga olinmagan")

    panel.get_by_test_id("face-files").set_input_files(
        [image("obama.jpg"), image("two_people.jpg"), image("obama2.jpg")]
    )
    photos = panel.get_by_test_id("face-photo")
    expect(photos).to_have_count(3)
    panel.get_by_test_id("face-enrol-submit").click()
    refused = photos.nth(1)
    expect(refused).to_have_attribute("data-state", "refused")
    expect(refused).to_have_attribute("data-reason", "several_faces")
    expect(refused.get_by_test_id("face-photo-reason")).to_have_text("bittadan ortiq yuz")
    clerk.by("lang-select").select_option("ru")
    expect(refused.get_by_test_id("face-photo-reason")).to_have_text("больше одного лица")
    clerk.by("lang-select").select_option("en")
    expect(refused.get_by_test_id("face-photo-reason")).to_have_text("more than one face")
    expect(status).to_have_attribute("data-enrolled", "false")

    refused.get_by_test_id("face-photo-drop").click()
    expect(photos).to_have_count(2)
    # A third from the camera (the fake one shows the deputy); it is closed again after.
    panel.get_by_test_id("face-take-photo").click()
    expect(photos).to_have_count(3)
    expect(panel.get_by_test_id("face-camera")).to_have_attribute("data-camera", "off")
    assert (photos.nth(2).locator("img").get_attribute("src") or "").startswith(
        "data:image/jpeg;base64,"
    )
    panel.get_by_test_id("face-enrol-submit").click()
    expect(status).to_have_attribute("data-enrolled", "true")
    expect(status).to_contain_text("with 3 samples")
    for n in range(3):
        expect(photos.nth(n)).to_have_attribute("data-state", "face")
        box = photos.nth(n).get_by_test_id("face-box")
        expect(box).to_be_visible()
        # The box lies inside the thumbnail, around a face (not the whole picture).
        inside = photos.nth(n).locator("img").bounding_box()
        drawn = box.bounding_box()
        assert inside and drawn
        assert drawn["x"] >= inside["x"] - 1 and drawn["y"] >= inside["y"] - 1
        assert drawn["x"] + drawn["width"] <= inside["x"] + inside["width"] + 1
        assert drawn["y"] + drawn["height"] <= inside["y"] + inside["height"] + 1
        assert 0.1 < drawn["width"] / inside["width"] < 0.9
    expect(panel.get_by_test_id("face-enrol-submit")).to_have_text("Re-enrol")
    expect(panel.get_by_test_id("face-remove")).to_be_visible()
    expect(option).to_have_attribute("data-enrolled", "true")
    expect(option).to_have_text(f"{DEPUTY.full_name} ✓")
    # The audit trail has the refused enrolment, its reason in words, and the enrolment.
    trail = clerk.by("audit-trail")
    rows = trail.locator("[data-testid=audit-row][data-kind=face_enrolled]")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-outcome", "ok")
    expect(rows.nth(1)).to_have_attribute("data-outcome", "refused")
    expect(rows.nth(1).locator("[data-reason=several_faces]")).to_have_text("more than one face")


def open_vote(chair: Tab) -> None:
    """The chair puts a simple-majority question to the vote from the console."""
    chair.sign_in("/chair", "chair")
    expect(chair.by("vote-open")).to_be_enabled()
    chair.by("vote-kind-select").select_option("simple")
    chair.by("vote-question-input").fill("Budjet loyihasi qabul qilinsin")
    chair.by("vote-open").click()


def open_sitting(server: Server) -> None:
    """The sitting and its first item open; 18 other deputies registered present."""
    agenda = httpx.get(f"{server.url}/api/sessions/{SESSION}", timeout=10).json()["agenda"]
    with Member(server, "chair") as chair:
        chair.ok("session.open")
        chair.ok("agenda.start_item", item=agenda[0]["id"])
    register(server, list(deputy_ids(server, OTHERS).values()))


def test_enrol_sign_in_with_face_id_and_vote_with_a_face(
    tabs: dict[str, Tab], face_server: Server, camera: Camera
) -> None:
    enrol(tabs["clerk"])

    deputy = tabs["deputy"]
    deputy.page.route("**/api/auth/face/challenge", camera.on_challenge)
    sent: list[dict[str, Any]] = []  # what the tablet's sockets send
    deputy.page.on(
        "websocket",
        lambda ws: ws.on("framesent", lambda payload: sent.append(json.loads(payload))),
    )
    deputy.sign_in("/deputy", LOGIN)
    card = deputy.by("face-signin")
    expect(card).to_have_attribute("data-mode", "required")
    expect(deputy.by("registration-status")).to_be_hidden()  # the tablet waits
    expect(deputy.by("face-skip")).to_be_hidden()
    expect(deputy.by("current-face")).to_have_count(0)
    deputy.by("face-start").click()
    prompt = deputy.by("face-prompt")
    expect(prompt).to_have_attribute("data-action", "ready", timeout=15000)
    expect(prompt).to_contain_text("Tayyorlaning")
    assert camera.challenges, "the page asked for no challenge"
    first = camera.challenges[0]["actions"][0]
    texts = {
        "blink": "Koʻzingizni yuming va oching",
        "turn_left": "Boshingizni chapga burang",
        "turn_right": "Boshingizni oʻngga burang",
    }
    expect(prompt).to_have_attribute("data-action", first, timeout=8000)
    expect(prompt).to_have_text(texts[first])

    # Passed: the page starts again with the face-verified sign-in.
    expect(deputy.by("current-face")).to_be_visible(timeout=30000)
    expect(deputy.by("current-face")).to_have_text("✓ Face ID")
    deputy.wait_online()
    expect(deputy.by("face-signin")).to_be_hidden()
    stored = deputy.page.evaluate("JSON.parse(sessionStorage.getItem('kengash.auth'))")
    assert stored["face_verified"] is True and stored["user"]["login"] == LOGIN

    # The sitting opens; deputy05 registers from the tablet (a face-verified sign-in).
    open_sitting(face_server)
    deputy.by("btn-register").click()
    expect(deputy.by("registration-status")).to_have_attribute("data-registered", "chamber")

    # The chair opens a vote from the console; the deputy's ballot wants a face.
    camera.show(still("obama.jpg", 20))
    open_vote(tabs["chair"])
    panel = deputy.by("ballot-panel")
    expect(panel).to_have_attribute("data-state", "open")
    assert deputy.state()["vote"]["face_check"] == "match"
    # Someone else taps first: refused, said in the page's language; the ballot stays.
    camera.show(still("biden.jpg", 20))
    panel.get_by_test_id("ballot-no").click()
    message = panel.get_by_test_id("message")
    expect(message).to_have_attribute("data-code", "face_mismatch", timeout=20000)
    expect(message).to_contain_text("Yuz mos kelmadi")
    expect(panel.get_by_test_id("ballot-confirmation")).to_have_count(0)
    # The deputy taps again.
    camera.show(still("obama.jpg", 20))
    panel.get_by_test_id("ballot-yes").click()
    expect(panel.get_by_test_id("ballot-confirmation")).to_contain_text(
        "Ovozingiz hisobga olindi", timeout=20000
    )
    expect(panel.get_by_test_id("my-choice")).to_have_attribute("data-choice", "yes")
    # The camera was opened for the frame and is off again.
    expect(panel.get_by_test_id("face-camera")).to_have_attribute("data-camera", "off")
    vote = int(deputy.state()["vote"]["id"])
    casts = [f["args"] for f in sent if f.get("cmd") == "vote.cast"]
    assert [(c["vote"], c["choice"]) for c in casts] == [(vote, "no"), (vote, "yes")]
    frames = [base64.b64decode(c["face"]) for c in casts]
    assert all(f[:3] == b"\xff\xd8\xff" for f in frames)  # JPEG, no data: prefix
    assert frames[0] != frames[1]  # a fresh frame for each tap
    # The server counted it.
    mine = httpx.get(
        f"{face_server.url}/api/votes/{vote}/mine",
        headers={"Authorization": f"Bearer {stored['token']}"},
        timeout=10,
    ).json()
    assert mine["voted"] is True, mine


def test_someone_else_in_front_of_the_camera_is_refused(
    tabs: dict[str, Tab], camera: Camera
) -> None:
    enrol(tabs["clerk"])
    camera.person = "biden.jpg"  # doing the right actions, but not the enrolled deputy
    deputy = tabs["deputy"]
    deputy.page.route("**/api/auth/face/challenge", camera.on_challenge)
    deputy.sign_in("/deputy", LOGIN)
    deputy.by("face-start").click()
    error = deputy.by("face-signin-error")
    expect(error).to_have_attribute("data-code", "face_mismatch", timeout=30000)
    expect(error).to_contain_text("Yuz mos kelmadi")
    deputy.by("lang-select").select_option("en")
    expect(error).to_contain_text("The face does not match")
    expect(deputy.by("face-start")).to_have_text("Try again")
    expect(deputy.by("current-face")).to_have_count(0)
    stored = deputy.page.evaluate("JSON.parse(sessionStorage.getItem('kengash.auth'))")
    assert "face_verified" not in stored
    expect(deputy.by("registration-status")).to_be_hidden()


def enrol_by_api(server: Server, names: Sequence[str]) -> None:
    token = server.token("secretary")
    deputy = deputy_ids(server, [LOGIN])[LOGIN]
    answer = httpx.post(
        f"{server.url}/api/deputies/{deputy}/face",
        json={"images": [base64.b64encode(photo(n)).decode() for n in names]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("face_server", [("optional", "live")], indirect=True)
def test_an_optional_face_sign_in_and_a_live_check_with_the_ballot(
    tabs: dict[str, Tab], face_server: Server, camera: Camera
) -> None:
    enrol_by_api(face_server, ["obama.jpg", "obama2.jpg"])
    deputy = tabs["deputy"]
    deputy.page.route("**/api/auth/face/challenge", camera.on_challenge)
    deputy.sign_in("/deputy", LOGIN)
    # Optional: offered above the tablet, which works meanwhile; "Not now" hides it.
    card = deputy.by("face-signin")
    expect(card).to_have_attribute("data-mode", "optional")
    expect(deputy.by("registration-status")).to_be_visible()
    deputy.by("face-skip").click()
    expect(card).to_be_hidden()
    assert not camera.challenges

    open_sitting(face_server)
    deputy.by("btn-register").click()
    expect(deputy.by("registration-status")).to_have_attribute("data-registered", "chamber")
    open_vote(tabs["chair"])
    panel = deputy.by("ballot-panel")
    expect(panel).to_have_attribute("data-state", "open")
    assert deputy.state()["vote"]["face_check"] == "live"

    # The tap asks for the vote's challenge, shows its one action, sends its frames.
    panel.get_by_test_id("ballot-abstain").click()
    prompt = panel.get_by_test_id("face-prompt")
    expect(prompt).to_have_attribute("data-action", "ready", timeout=15000)
    (challenge,) = camera.challenges
    (action,) = challenge["actions"]
    deputy.by("lang-select").select_option("ru")
    texts = {
        "blink": "Моргните",
        "turn_left": "Поверните голову влево",
        "turn_right": "Поверните голову вправо",
    }
    expect(prompt).to_have_attribute("data-action", action, timeout=8000)
    expect(prompt).to_have_text(texts[action])
    expect(panel.get_by_test_id("ballot-confirmation")).to_be_visible(timeout=30000)
    expect(panel.get_by_test_id("my-choice")).to_have_attribute("data-choice", "abstain")
    expect(panel.get_by_test_id("face-camera")).to_have_attribute("data-camera", "off")


def test_a_refused_camera_is_said_and_can_be_tried_again(tabs: dict[str, Tab]) -> None:
    clerk = tabs["clerk"]
    # The first request for the camera is refused, as when the user says no to it.
    clerk.page.add_init_script(
        """(() => {
            const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
            let refusals = 1;
            navigator.mediaDevices.getUserMedia = (constraints) =>
                refusals-- > 0
                    ? Promise.reject(new DOMException("refused", "NotAllowedError"))
                    : real(constraints);
        })()"""
    )
    clerk.sign_in("/clerk", "secretary")
    panel = clerk.by("face-enrol")
    expect(panel).to_have_attribute("data-loaded", "true")
    value = panel.locator(f"option[data-login={LOGIN}]").get_attribute("value")
    panel.get_by_test_id("face-deputy").select_option(value)
    panel.get_by_test_id("face-take-photo").click()
    problem = panel.get_by_test_id("face-camera-problem")
    expect(problem).to_have_attribute("data-code", "denied")
    expect(problem).to_contain_text("Bu sahifa uchun kamera taqiqlangan")
    clerk.by("lang-select").select_option("en")
    expect(problem).to_contain_text("The camera is not allowed on this page")
    expect(panel.get_by_test_id("face-photo")).to_have_count(0)
    panel.get_by_test_id("face-camera-retry").click()
    expect(panel.get_by_test_id("face-photo")).to_have_count(1)
    expect(problem).to_be_hidden()
    expect(panel.get_by_test_id("face-camera")).to_have_attribute("data-camera", "off")
