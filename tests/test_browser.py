"""The browser front end against a real server and real runs, in headless Chromium (Playwright).

Every page is opened with a route guard that fails the test if anything is requested from another
origin (no CDN, no fonts, no analytics), and a console watcher that fails it on any console error or
uncaught exception. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, Server

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("PROCLAB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "test-artifacts"
RUN_TIMEOUT = 90_000  # ms: a whole lesson run, on a busy machine

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no chromium at " + CHROMIUM),
    pytest.mark.timeout(300),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Page:
    """A page with the guards, and helpers for the lesson page."""

    def __init__(self, browser: Any, server: Server, locale: str = "en-US") -> None:
        self.base = server.base
        self.server = server
        # Playwright's own predicates use eval, which the server's CSP forbids; test_csp_* enforces it.
        self.context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale=locale,
                                           bypass_csp=True)
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.context.route("**/*", self._guard)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}")
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def _guard(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(self.base) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()

    def goto(self, path: str) -> Any:
        self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")
        return self.page

    def run_lesson(self, lesson: str, source: str | None = None) -> Any:
        page = self.goto(f"/lessons/{lesson}")
        page.wait_for_function("window.proclab && window.proclab.ws")
        if source is not None:
            page.evaluate("(src) => document.querySelector('.CodeMirror').CodeMirror.setValue(src)", source)
        page.click("#btn-run")
        return page

    def wait_finished(self) -> None:
        self.page.wait_for_function("window.proclab.run.phase === 'finished'", timeout=RUN_TIMEOUT)
        self.page.wait_for_timeout(400)  # the last frame and the answers

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()

    def expected_http_error(self, status: int) -> None:
        """Chromium logs every failed response as a console error by itself; drop those of a status the test
        caused on purpose (e.g. a 422 for a broken lesson), and only those."""
        line = f"Failed to load resource: the server responded with a status of {status} "
        kept = [e for e in self.errors if line not in e]
        assert len(kept) < len(self.errors), f"no {status} response was logged: {self.errors}"
        self.errors[:] = kept

    def check_clean(self) -> None:
        assert not self.foreign, f"requests left the server: {self.foreign}"
        assert not self.errors, f"console errors: {self.errors}"


@pytest.fixture
def ui(browser: Any, server: Server) -> Iterator[Page]:
    p = Page(browser, server)
    yield p
    try:
        p.check_clean()
    finally:
        p.close()


def process_nodes(page: Any) -> list[str]:
    return page.eval_on_selector_all(".tree-nodes .tnode[data-pid]:not(.tinit)", "els => els.map(e => e.dataset.pid)")


def lesson_id(server: Server, topic_or_id: str) -> str:
    lessons = server.http.get("/api/lessons").json()
    for lesson in lessons:
        if lesson["id"] == topic_or_id:
            return lesson["id"]
    for lesson in lessons:
        if lesson.get("topic") == topic_or_id or topic_or_id in lesson["id"]:
            return lesson["id"]
    pytest.skip(f"no lesson about {topic_or_id}")
    raise AssertionError


# ---------------------------------------------------------------------------------------------


def test_index_lists_lessons(ui: Page) -> None:
    page = ui.goto("/")
    cards = page.locator(".lesson-card")
    assert cards.count() >= 3
    assert page.locator(".lesson-card a").first.get_attribute("href").startswith("/lessons/")
    ui.shot("index")


def test_fork_lesson_two_processes_and_their_output(ui: Page) -> None:
    page = ui.run_lesson(lesson_id(ui.server, "fork-basics"))
    page.wait_for_function(
        "document.querySelectorAll('.tree-nodes .tnode[data-pid]:not(.tinit)').length >= 2", timeout=RUN_TIMEOUT)
    ui.wait_finished()
    pids = process_nodes(page)
    assert len(pids) >= 2
    # output lines are labelled with the pid that wrote them; both processes printed
    badges = set(page.eval_on_selector_all(".term-line .pid-badge", "els => els.map(e => e.textContent.trim())"))
    assert len({b for b in badges if b.isdigit()}) >= 2, badges
    assert {b for b in badges if b.isdigit()} <= set(pids)
    # the five-state diagram has a token per process, the swimlanes a lane per process
    assert page.locator(".st-token").count() >= 2
    assert page.locator(".lane-label[data-pid]").count() >= 2
    # the banner says why the run stopped; the questions got the real answers
    assert page.locator(".banner").is_visible()
    assert page.locator(".banner").inner_text().strip()
    page.wait_for_selector(".q-real", timeout=10_000)
    # the run's recording can be downloaded
    run_id = page.evaluate("window.proclab.run.id")
    assert page.locator("#run-export").is_visible()
    assert page.locator("#run-export").get_attribute("href") == f"/api/runs/{run_id}/export"
    ui.shot("fork-after-run")


def test_zombie_node_appears(ui: Page) -> None:
    page = ui.run_lesson(lesson_id(ui.server, "zombie-process"))
    page.wait_for_selector(".tree-nodes .tnode.st-zombie", timeout=RUN_TIMEOUT)
    zombie = page.locator(".tree-nodes .tnode.st-zombie").first
    assert "Z" in zombie.locator(".tstat").text_content()
    assert page.locator(".st-box.st-zombie.has").count() == 1  # a token in the zombie box
    ui.shot("zombie-live")
    ui.wait_finished()


# Who reaped a terminated process, as the tree node says it: {by} is the reaper's pid, or init.
REAPED_BY = {"en-US": "reaped by {by}", "zh-CN": "已被 {by} 回收"}


@pytest.mark.parametrize("locale", sorted(REAPED_BY))
def test_tree_node_says_who_reaped_it_in_full(browser: Any, server: Server, locale: str) -> None:
    p = Page(browser, server, locale=locale)
    try:
        p.page.set_viewport_size({"width": 1500, "height": 950})
        page = p.run_lesson(lesson_id(server, "zombie-process"))
        p.wait_finished()
        live = page.evaluate("""() => { const l = window.proclab.ws.live;
            return { init: l.initPid, reaped: [...l.procs.values()].filter(p => p.reapedBy != null)
                .map(p => [p.pid, p.reapedBy]) }; }""")
        # the main process is reaped by init, its zombie child by the main process
        assert sorted(by == live["init"] for _, by in live["reaped"]) == [False, True], live
        page.locator(".view-tree").scroll_into_view_if_needed()
        for pid, by in live["reaped"]:
            node = page.locator(f'.tree-nodes .tnode[data-pid="{pid}"]')
            assert node.is_visible()
            want = REAPED_BY[locale].format(by="init" if by == live["init"] else by)
            lines = node.evaluate("""(g) => { const box = g.querySelector('.tbox').getBoundingClientRect();
                return [...g.querySelectorAll('text')].filter(t => t.textContent).map(t => {
                    const r = t.getBoundingClientRect();
                    return { text: t.textContent, inside: r.left >= box.left && r.right <= box.right
                             && r.top >= box.top && r.bottom <= box.bottom }; }); }""")
            shown = [x["text"] for x in lines]
            assert want in shown, f"node {pid} should say {want!r}: {shown}"
            assert not any(x.endswith("…") for x in shown), f"node {pid} is cut short: {shown}"
            assert all(x["inside"] for x in lines), f"node {pid}: text outside its box: {lines}"
        boxes = page.eval_on_selector_all(".tree-nodes .tnode .tbox", """els => els.map(e => {
            const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })""")
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], f"nodes overlap: {a} {b}"
        p.shot(f"tree-reaped-by-{locale}")
        p.check_clean()
    finally:
        p.close()


def test_orphan_moves_to_init(ui: Page) -> None:
    page = ui.run_lesson(lesson_id(ui.server, "orphan-process"))
    page.wait_for_selector(".tree-edges .tedge.adopted", timeout=RUN_TIMEOUT)
    init_pid = page.evaluate("window.proclab.ws.live.initPid")
    edge = page.locator(".tree-edges .tedge.adopted").first
    assert edge.get_attribute("data-parent") == str(init_pid)
    child = edge.get_attribute("data-child")
    # the orphan's node now sits one level below init
    depth = page.evaluate("""(pid) => {
        const n = document.querySelector(`.tree-nodes .tnode[data-pid="${pid}"]`);
        const init = document.querySelector('.tree-nodes .tnode.tinit');
        const y = (el) => new DOMMatrix(getComputedStyle(el).transform).f;
        return [y(init), y(n)];
    }""", child)
    assert depth[1] > depth[0]
    ui.shot("orphan-adopted")
    ui.wait_finished()
    assert page.evaluate("(pid) => window.proclab.ws.live.procs.get(Number(pid)).reapedBy", child) == init_pid


def test_language_switch_is_remembered(ui: Page) -> None:
    page = ui.goto("/")
    assert page.locator("html").get_attribute("data-lang") == "en"
    assert page.locator(".hero h1").inner_text() == "Lessons"
    page.click("#lang-toggle")
    assert page.locator("html").get_attribute("data-lang") == "zh"
    assert page.locator(".hero h1").inner_text() == "课程"
    assert page.evaluate("localStorage.getItem('proclab.lang')") == "zh"
    cookies = {c["name"]: c["value"] for c in ui.context.cookies()}
    assert cookies.get("lang") == "zh"
    # the server now renders Chinese by itself
    html = page.request.get(ui.base + "/").text()
    assert 'data-lang="zh"' in html and ">课程<" in html
    page.reload()
    assert page.locator(".hero h1").inner_text() == "课程"
    # lesson cards show the Chinese title only
    card = page.locator(".lesson-card").first
    assert card.locator('[data-l="en"]').first.is_hidden()
    assert card.locator('[data-l="zh"]').first.is_visible()
    ui.shot("index-zh")
    page.click("#lang-toggle")
    assert page.locator(".hero h1").inner_text() == "Lessons"


def test_language_from_the_browser(browser: Any, server: Server) -> None:
    p = Page(browser, server, locale="zh-CN")
    try:
        page = p.goto("/lessons/" + lesson_id(server, "fork-basics"))
        assert page.locator("html").get_attribute("data-lang") == "zh"
        assert page.locator("#btn-run").inner_text().strip() == "运行"
        p.check_clean()
    finally:
        p.close()


HOSTILE_OUTPUT = r'''import os, sys, time
print("<script>window.__xss = 1</script><img src=x onerror='window.__xss = 2'>", flush=True)
sys.stdout.write("nul:\x00:end\n")
sys.stdout.write("raw NUL byte here\x00 and a bell\x07\n")
sys.stdout.flush()
print("\x1b[31mred\x1b[0m plain \x1b[1;32mbold green\x1b[0m \x1b[2J\x1b]0;title\x07done", flush=True)
pid = os.fork()
if pid == 0:
    time.sleep(30)
    os._exit(0)
line = sys.stdin.readline()
print("got:", line.strip(), flush=True)
os.waitpid(pid, 0)
print("child ended", flush=True)
'''


def test_output_is_inert_and_signals_and_stdin_work(ui: Page) -> None:
    page = ui.run_lesson(lesson_id(ui.server, "fork-basics"), HOSTILE_OUTPUT)
    page.wait_for_function(
        "document.querySelectorAll('.tree-nodes .tnode[data-pid]:not(.tinit)').length >= 2", timeout=RUN_TIMEOUT)
    page.wait_for_function("document.querySelector('.term-screen').textContent.includes('done')",
                           timeout=RUN_TIMEOUT)
    # stdin: a typed line reaches the program
    page.fill(".term-input", "hello stdin")
    page.press(".term-input", "Enter")
    page.wait_for_function("document.querySelector('.term-screen').textContent.includes('got: hello stdin')",
                           timeout=30_000)
    # a signal from the keyboard: focus the child's node, open its menu, pick SIGTERM
    child = process_nodes(page)[-1]
    page.focus(f".tree-nodes .tnode[data-pid='{child}']")
    page.keyboard.press("Enter")
    page.wait_for_selector(".sigmenu [role=menuitem]")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.signal") == "SIGTERM"
    page.keyboard.press("Enter")
    ui.wait_finished()

    term = page.locator(".term-screen")
    text = term.text_content()
    assert "<script>window.__xss = 1</script>" in text
    assert page.evaluate("window.__xss") is None
    assert term.locator("script, img").count() == 0
    assert "\x00" not in text and "\x1b" not in text and "\x07" not in text
    assert "nul:\u2400:end" in text  # the NUL (sent as \u0000) is shown as the visible ␀
    red = term.locator(".ansi-fg-1")
    assert red.count() >= 1 and red.first.text_content() == "red"
    assert term.locator(".ansi-bold").count() >= 1
    assert "title" not in text  # an OSC sequence is dropped, not shown
    signals = page.evaluate("window.proclab.ws.live.signals.map(s => [s.to, s.signal])")
    assert [int(child), "SIGTERM"] in signals
    ui.shot("hostile-output")


def test_replay_page_scrubs(ui: Page) -> None:
    lesson = lesson_id(ui.server, "fork-basics")
    r = ui.server.http.post("/api/runs", json={"lesson": lesson})
    assert r.status_code == 201
    run_id = r.json()["id"]
    events = ui.server.wait(run_id, timeout=90)
    page = ui.goto(f"/runs/{run_id}?share={r.json()['share']}")  # someone else's run: its share link
    page.wait_for_function(f"window.proclab && window.proclab.ws.timeline.length === {len(events)}",
                           timeout=30_000)
    slider = page.locator(".tl-slider")
    # the end: every process was reaped
    assert page.evaluate("[...window.proclab.ws.live.procs.values()].every(p => p.state === 'terminated')")
    # the beginning: nothing has been spawned yet
    slider.focus()
    page.keyboard.press("Home")
    page.wait_for_timeout(300)
    assert "event 0 of" in page.locator(".tl-label").inner_text()
    assert process_nodes(page) == []
    assert page.locator(".term-line").count() == 0
    # step forward event by event until the first fork: two processes alive
    for _ in range(len(events)):
        page.keyboard.press("ArrowRight")
        if len(process_nodes(page)) >= 2:
            break
    page.wait_for_timeout(300)
    assert len(process_nodes(page)) >= 2
    assert page.locator(".view-timeline.scrubbing").count() == 1
    ui.shot("replay-scrubbed")
    # the slider with the mouse: the middle of the run
    box = slider.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    page.wait_for_timeout(300)
    n = int(re.search(r"event (\d+) of", page.locator(".tl-label").inner_text()).group(1))
    assert 0 < n < len(events)
    # back to the end ("live")
    page.click(".tl-live")
    page.wait_for_timeout(300)
    assert f"event {len(events)} of {len(events)}" in page.locator(".tl-label").inner_text()
    # the code of the run is shown, read-only
    assert page.locator(".CodeMirror").count() == 1


def test_classroom_room_shows_the_instructors_run_to_a_student(browser: Any, server: Server) -> None:
    teacher = Page(browser, server)
    student = Page(browser, server)
    try:
        page = teacher.goto("/signin")
        page.fill("#token", server.secret)
        page.click("button[type=submit]")
        page.wait_for_url(server.base + "/")
        page.wait_for_selector("#room-create:not([hidden])")
        page.click("#room-create")
        page.wait_for_url("**/room/*")
        url = page.url
        spage = student.goto(url[len(server.base):])
        assert spage.locator("#btn-run").count() == 0  # students get no run controls
        page.wait_for_function("document.querySelectorAll('#room-lesson option').length > 0")
        page.select_option("#room-lesson", lesson_id(server, "fork-basics"))
        page.click("#room-start button[type=submit]")
        spage.wait_for_function(
            "document.querySelectorAll('.tree-nodes .tnode[data-pid]:not(.tinit)').length >= 2", timeout=RUN_TIMEOUT)
        spage.wait_for_function("[...window.proclab.runs.values()].every(r => r.finished)", timeout=RUN_TIMEOUT)
        spage.wait_for_timeout(400)
        assert spage.locator(".term-line").count() >= 2
        assert spage.locator(".room-run").count() == 1
        student.shot("room-student")
        teacher.shot("room-instructor")
        teacher.check_clean()
        student.check_clean()
    finally:
        teacher.close()
        student.close()


def test_websocket_drop_resumes_from_the_last_seq(ui: Page) -> None:
    """The socket is cut after the first frames; the page reconnects with ?after=SEQ, no gap, no duplicate."""
    urls: list[str] = []

    def handler(ws: Any) -> None:
        urls.append(ws.url)
        server_ws = ws.connect_to_server()
        first = len(urls) == 1
        frames = {"n": 0}

        def to_page(message: Any) -> None:
            if first and frames["n"] >= 2:
                return
            ws.send(message)
            frames["n"] += 1
            if first and frames["n"] == 2:
                ws.close()  # drop the connection as a flaky network would

        server_ws.on_message(to_page)

    ui.context.route_web_socket(re.compile(r".*/ws/runs/.*"), handler)
    source = "import time\nfor i in range(12):\n    print('tick', i, flush=True)\n    time.sleep(0.15)\n"
    page = ui.run_lesson(lesson_id(ui.server, "fork-basics"), source)
    ui.wait_finished()
    run_id = page.evaluate("window.proclab.run.id")
    server_events = ui.server.http.get(f"/api/runs/{run_id}/events",
                                       headers={"Authorization": f"Bearer {ui.server.secret}"}).json()
    seqs = page.evaluate("window.proclab.ws.timeline.events.map(e => e.seq)")
    assert seqs == [e["seq"] for e in server_events]  # every event once, in order
    assert len(urls) >= 2, urls
    assert "after=" in urls[1]
    text = page.locator(".term-screen").text_content()
    assert all(f"tick {i}" in text for i in range(12))


def synthetic_run(procs: int = 200, events: int = 10_000) -> list[dict[str, Any]]:
    """A big run in the shape of docs/events.md: `procs` processes, about `events` events."""
    out: list[dict[str, Any]] = []
    t = 0

    def push(type_: str, **fields: Any) -> None:
        nonlocal t
        t += 500_000
        out.append({"v": 1, "seq": len(out), "t": t, "type": type_, **fields})

    push("run.started", root_pid=1000, init_pid=1, layers=[], limits={}, lesson=None, pid_ns=True)
    push("proc.spawn", pid=1000, ppid=1, how="root", name="python3", line=None)
    for i in range(1, procs):
        push("proc.spawn", pid=1000 + i, ppid=1000 if i < 10 else 1000 + i % 10, how="fork", name="python3",
             line={"file": "main.py", "line": 3 + i % 10})
    states = ["ready", "running", "blocked", "running"]
    k = 0
    while len(out) < events - 2 * procs - 1:
        pid = 1000 + (k * 7919) % procs
        state = states[(k // procs) % 4]
        if k % 7 == 0:
            push("io.output", pid=pid, stream="stdout", text=f"line {k} from {pid}\n")
        elif k % 53 == 0:
            push("ipc.transfer", channel=f"pipe#{1 + k % 5}", pid=pid, direction="write" if k % 2 else "read",
                 bytes=12, preview="hello world\n", line=None)
        elif k % 97 == 0:
            push("signal.sent", **{"from": pid, "to": 1000 + k % procs, "signal": "SIGUSR1", "line": None})
        else:
            push("proc.state", pid=pid, state=state, prev=None, stat="S" if state == "blocked" else "R",
                 reason="sleeping" if state == "blocked" else None)
        k += 1
    for i in range(procs - 1, -1, -1):
        push("proc.exit", pid=1000 + i, code=0, signal=None, core=False)
        push("proc.reaped", pid=1000 + i, by=1000 if i else 1, call="wait", status=0)
    push("run.finished", status="ok", code=0, reason=None, duration_ms=t // 1_000_000,
         stats={"processes": procs, "events": len(out) + 1}, message={"en": "The program finished.", "zh": "程序运行结束。"})
    return out


def test_200_processes_and_10000_events_stay_responsive(ui: Page) -> None:
    """Fed at ~2000 events/s in 20 ms batches (as the server batches), the page keeps drawing frames and
    every view ends with every process; scrubbing anywhere stays quick. Thresholds are lenient: headless
    Chromium renders in software, on a shared machine."""
    events = synthetic_run()
    page = ui.goto("/lessons/" + lesson_id(ui.server, "fork-basics"))
    page.wait_for_function("window.proclab && window.proclab.ws")
    stats = page.evaluate("""async (events) => {
        const ws = window.proclab.ws;
        const frames = [];
        let last = performance.now();
        let on = true;
        const loop = (now) => { frames.push(now - last); last = now; if (on) requestAnimationFrame(loop); };
        requestAnimationFrame(loop);
        for (let i = 0; i < events.length; i += 40) {
            ws.feed(events.slice(i, i + 40));
            await new Promise((r) => setTimeout(r, 20));
        }
        await new Promise((r) => setTimeout(r, 600));
        on = false;
        const f = frames.slice(2).sort((a, b) => a - b);
        const seeks = [];
        for (let i = 0; i < 30; i++) {
            const t0 = performance.now();
            ws.seekTime(ws.timeline.duration * ((i * 37) % 100) / 100);
            await new Promise((r) => requestAnimationFrame(() => r()));
            seeks.push(performance.now() - t0);
        }
        ws.goLive();
        await new Promise((r) => setTimeout(r, 300));
        seeks.sort((a, b) => a - b);
        return { median: f[Math.floor(f.length / 2)], fps: 1000 / (f.reduce((a, b) => a + b, 0) / f.length),
                 seekMedian: seeks[15], frames: f.length };
    }""", events)
    print("200 processes / 10,000 events:", stats)
    assert stats["frames"] > 50
    assert stats["median"] < 250, stats
    assert stats["seekMedian"] < 1000, stats
    assert page.locator(".tree-nodes .tnode[data-pid]:not(.tinit)").count() == 200
    assert page.locator(".st-box.st-terminated").get_attribute("class").endswith("has")
    assert page.locator(".lane-label[data-pid]").count() == 200
    ui.shot("big-run")


def test_reduced_motion_runs_without_animations(browser: Any, server: Server) -> None:
    p = Page(browser, server)
    try:
        p.page.emulate_media(reduced_motion="reduce")
        page = p.run_lesson(lesson_id(server, "fork-basics"))
        running: list[int] = []
        for _ in range(20):
            running.append(page.evaluate(
                "document.getAnimations().filter(a => a.playState === 'running' && "
                "(a.effect && a.effect.getComputedTiming().duration > 50)).length"))
            if page.evaluate("window.proclab.run.phase") == "finished":
                break
            page.wait_for_timeout(100)
        p.wait_finished()
        assert max(running) == 0, running
        p.check_clean()
    finally:
        p.close()


def test_events_arrive_over_http_when_websockets_are_blocked(ui: Page) -> None:
    """A proxy that refuses WebSockets: the page falls back to GET /api/runs/{id}/events?after=SEQ."""
    ui.context.route_web_socket(re.compile(r".*/ws/runs/.*"), lambda ws: ws.close())
    page = ui.run_lesson(lesson_id(ui.server, "fork-basics"))
    ui.wait_finished()
    run_id = page.evaluate("window.proclab.run.id")
    server_events = ui.server.http.get(f"/api/runs/{run_id}/events",
                                       headers={"Authorization": f"Bearer {ui.server.secret}"}).json()
    seqs = page.evaluate("window.proclab.ws.timeline.events.map(e => e.seq)")
    assert seqs == [e["seq"] for e in server_events]
    assert len(process_nodes(page)) >= 2


def test_csp_enforced_lesson_runs_without_a_single_violation(browser: Any, server: Server) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    lesson = next(x["id"] for x in server.http.get("/api/lessons").json() if "fork" in x["id"])
    response = page.goto(f"{server.base}/lessons/{lesson}")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    page.locator("#btn-run").click()
    page.locator(".term-screen", has_text="child").wait_for(timeout=RUN_TIMEOUT)
    page.wait_for_timeout(1000)
    context.close()
    assert not problems, problems


# --------------------------------------------------------------------------------------------- instructors


def sign_in(p: Page) -> Any:
    """Sign in as the instructor through the form (the cookie is httponly)."""
    page = p.goto("/signin")
    page.fill("#token", p.server.secret)
    page.click("button[type=submit]")
    page.wait_for_url(p.base + "/")
    return page


def test_room_shows_the_qr_code_and_counts_students(browser: Any, server: Server) -> None:
    teacher = Page(browser, server)
    student = Page(browser, server)
    try:
        page = sign_in(teacher)
        page.wait_for_selector("#room-create:not([hidden])")
        page.click("#room-create")
        page.wait_for_url("**/room/*")
        page.wait_for_load_state("networkidle")
        info = server.http.get("/api/rooms/" + page.url.rsplit("/", 1)[1]).json()
        # the QR code: the server's SVG, imported as an <svg> element (not as markup), scaled by CSS
        qr = page.locator("#room-qr svg")
        assert qr.count() == 1 and qr.is_visible()
        assert page.locator("#room-qr").get_attribute("role") == "img"
        assert page.locator("#room-qr").get_attribute("aria-label") == "QR code of the join link"
        assert qr.get_attribute("viewBox")
        assert page.locator("#room-qr svg path").count() >= 1
        assert page.evaluate("document.querySelector('#room-qr svg') instanceof SVGSVGElement")
        box = qr.bounding_box()
        assert box["width"] >= 150 and abs(box["width"] - box["height"]) < 2
        assert page.locator("#room-url").inner_text() == info["url"]
        assert page.locator(".room-code").inner_text() == info["code"]
        # the students connected: none yet (the instructor's own page is not counted), then one
        page.wait_for_function("document.getElementById('room-clients').textContent === '0 students connected'",
                               timeout=10_000)
        student.goto(page.url[len(server.base):])
        assert student.page.locator("#room-qr svg").count() == 1
        page.wait_for_function("document.getElementById('room-clients').textContent === '1 student connected'",
                               timeout=10_000)
        # the projector view: keyboard opens it, Esc closes it, focus comes back
        page.focus("#room-project")
        page.keyboard.press("Enter")
        dialog = page.locator("#room-projector")
        assert dialog.is_visible()
        big = page.locator("#projector-qr svg").bounding_box()
        assert big["width"] >= 400, big
        assert page.locator("#projector-code").inner_text() == info["code"]
        assert page.locator("#projector-clients").inner_text() == "1 student connected"
        teacher.shot("room-projector")
        page.keyboard.press("Escape")
        assert not dialog.is_visible()
        assert page.evaluate("document.activeElement.id") == "room-project"
        teacher.shot("room-instructor-qr")
        page.click("#theme-toggle")
        page.wait_for_timeout(400)  # the theme's transitions
        teacher.shot("room-instructor-qr-dark")
        teacher.check_clean()
        student.check_clean()
    finally:
        teacher.close()
        student.close()


def test_export_a_recording_and_import_it_as_instructor(ui: Page, tmp_path: Path) -> None:
    lesson = lesson_id(ui.server, "fork-basics")
    r = ui.server.http.post("/api/runs", json={"lesson": lesson})
    assert r.status_code == 201
    run_id = r.json()["id"]
    events = ui.server.wait(run_id, timeout=90)
    page = sign_in(ui)
    # the replay page offers the recording as a download
    page = ui.goto(f"/runs/{run_id}")
    link = page.locator("#run-export")
    assert link.is_visible()
    assert link.get_attribute("href") == f"/api/runs/{run_id}/export"
    with page.expect_download() as info:
        link.click()
    path = tmp_path / "recording.ndjson"
    info.value.save_as(path)
    lines = path.read_text().splitlines()
    assert len(lines) == len(events) + 1 and '"proclab_recording": 1' in lines[0]
    # a broken recording: the server's message (naming the line) is shown, nothing else happens
    broken = tmp_path / "broken.ndjson"
    broken.write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    page = ui.goto("/")
    page.wait_for_selector("#import-box:not([hidden])")
    page.set_input_files("#import-file", str(broken))
    status = page.locator("#import-status")
    status.wait_for(state="visible")
    page.wait_for_function("document.getElementById('import-status').classList.contains('error')")
    assert "line 3" in status.inner_text(), status.inner_text()
    assert status.get_attribute("role") == "alert"
    assert page.url == ui.base + "/"
    ui.expected_http_error(422)
    ui.shot("import-error")
    # the real one: imported, and its replay page opens
    page.set_input_files("#import-file", str(path))
    page.wait_for_url(re.compile(r".*/runs/[^/]+$"))
    new_id = page.url.rsplit("/", 1)[1]
    assert new_id != run_id
    page.wait_for_function(f"window.proclab && window.proclab.ws.timeline.length === {len(events)}", timeout=30_000)
    # it scrubs like the original: nothing at the start, two processes after the first fork, all at the end
    slider = page.locator(".tl-slider")
    slider.focus()
    page.keyboard.press("Home")
    page.wait_for_timeout(300)
    assert "event 0 of" in page.locator(".tl-label").inner_text()
    assert process_nodes(page) == []
    for _ in range(len(events)):
        page.keyboard.press("ArrowRight")
        if len(process_nodes(page)) >= 2:
            break
    assert len(process_nodes(page)) >= 2
    page.keyboard.press("End")
    page.wait_for_timeout(300)
    assert f"event {len(events)} of {len(events)}" in page.locator(".tl-label").inner_text()
    assert page.locator(".term-line").count() >= 2
    assert page.locator("#run-export").get_attribute("href") == f"/api/runs/{new_id}/export"
    ui.shot("imported-replay")


def cm_set(page: Any, text: str) -> None:
    page.evaluate("(src) => document.querySelector('.CodeMirror').CodeMirror.setValue(src)", text)


def test_instructor_saves_sees_errors_at_their_line_and_checks_the_lesson(ui: Page) -> None:
    lesson = lesson_id(ui.server, "fork-basics")
    before = ui.server.http.get(f"/api/lessons/{lesson}").json()
    original = before["files"]["main.py"]
    auth = {"Authorization": f"Bearer {ui.server.secret}"}
    original_md = ui.server.http.get(f"/api/lessons/{lesson}/files/lesson.md", headers=auth).json()["content"]
    try:
        sign_in(ui)
        page = ui.goto(f"/lessons/{lesson}")
        page.wait_for_selector(".code-save")
        page.wait_for_selector("#author:not([hidden])")
        page.wait_for_selector(".code-tab[data-file='lesson.md']")  # the raw lesson.md, in its own tab
        # the lesson's expectations are listed before any check
        assert page.locator(".expect-list .exp-pending").count() == len(before["expect"])

        # 1. a syntax error on line 3 of main.py: refused, shown at the file and the line, nothing saved
        lines = original.split("\n")
        broken = "\n".join(lines[:2] + ["x = = 1"] + lines[2:])
        cm_set(page, broken)
        assert page.locator(".code-tab[data-file='main.py']").get_attribute("class").count("dirty") == 1
        page.focus(".CodeMirror textarea")
        page.keyboard.press("Control+s")
        banner = page.locator(".code-problem")
        banner.wait_for(state="visible", timeout=15_000)
        text = banner.inner_text()
        assert "main.py, line 3" in text and "syntax" in text.lower(), text
        assert banner.get_attribute("role") == "alert"
        assert page.evaluate("document.querySelector('.CodeMirror').CodeMirror.getLineHandle(2).wrapClass") \
            == "line-error"
        assert page.locator(".CodeMirror .line-error-note").count() == 1
        ui.expected_http_error(422)
        ui.shot("author-save-error")
        page.click("#theme-toggle")
        page.wait_for_timeout(400)  # the theme's transitions
        ui.shot("author-save-error-dark")
        page.click("#theme-toggle")
        assert ui.server.http.get(f"/api/lessons/{lesson}").json()["files"]["main.py"] == original
        # from another tab, "Go to line 3" comes back to main.py, line 3
        page.click(".code-tab[data-file='lesson.md']")
        page.click(".code-problem button:has-text('Go to line 3')")
        assert page.locator(".code-tab[aria-selected='true']").inner_text().startswith("main.py")
        assert page.evaluate("document.querySelector('.CodeMirror').CodeMirror.getCursor().line") == 2

        # 2. fixed (and changed a little): saved; the banner goes, the tab is clean again
        fixed = original.rstrip("\n") + "\n# checked by the browser test\n"
        cm_set(page, fixed)
        assert page.locator(".CodeMirror .line-error").count() == 0  # the mark goes with the first edit
        page.click(".code-save")
        page.wait_for_function("document.querySelector('.code-saved').textContent === 'Saved'", timeout=15_000)
        assert not banner.is_visible()
        assert "dirty" not in (page.locator(".code-tab[data-file='main.py']").get_attribute("class") or "")
        assert page.locator(".code-edited").is_hidden()
        assert ui.server.http.get(f"/api/lessons/{lesson}").json()["files"]["main.py"] == fixed

        # 3. Check lesson, from the keyboard: every expectation holds, with a link to the check run
        page.focus("#author-check")
        page.keyboard.press("Enter")
        page.wait_for_selector(".check-summary.check-ok", timeout=RUN_TIMEOUT)
        assert page.locator(".expect-list .exp-ok").count() == len(before["expect"])
        assert page.locator(".expect-list .exp-fail").count() == 0
        assert page.locator(".check-summary").inner_text().strip() == f"✓ All {len(before['expect'])} expectations hold"
        assert page.evaluate("document.activeElement.classList.contains('check-summary')")
        run_href = page.locator(".check-run a").get_attribute("href")
        assert re.fullmatch(r"/runs/[\w-]+", run_href)
        assert ui.server.http.get("/api" + run_href, headers={"Authorization": f"Bearer {ui.server.secret}"}
                                  ).json()["status"] == "finished"
        ui.shot("author-checked")
        page.click("#lang-toggle")
        assert page.locator(".check-summary").inner_text().strip() == f"✓ 全部 {len(before['expect'])} 条预期都成立"
        assert page.locator(".expect-list .exp-ok .exp-state").first.text_content().startswith("成立")
        assert page.locator(".expect-list .exp-ok .exp-mark").first.get_attribute("title") == "成立"
        ui.shot("author-checked-zh")
        page.click("#lang-toggle")
        page.click("#theme-toggle")
        page.wait_for_timeout(400)  # the theme's transitions
        ui.shot("author-checked-dark")
        page.click("#theme-toggle")

        # 4. lesson.md: a broken field is refused at its line; a new title is saved and shown at once
        page.click(".code-tab[data-file='lesson.md']")
        assert page.evaluate("document.querySelector('.CodeMirror').CodeMirror.getValue()") == original_md
        assert "order: 20\n" in original_md
        cm_set(page, original_md.replace("order: 20\n", "order: twenty\n"))
        page.keyboard.press("Control+s")
        banner.wait_for(state="visible", timeout=15_000)
        assert "lesson.md, line 3" in banner.inner_text(), banner.inner_text()
        ui.expected_http_error(422)
        title = before["title"]["en"]
        cm_set(page, original_md.replace(f'en: "{title}"', f'en: "{title} (edited)"', 1))
        page.keyboard.press("Control+s")
        page.wait_for_function("document.getElementById('lesson-title').textContent.includes('(edited)')",
                               timeout=15_000)
        assert not banner.is_visible()
        assert ui.server.http.get(f"/api/lessons/{lesson}").json()["title"]["en"] == f"{title} (edited)"
        # the run still gets the scenario files only
        assert sorted(page.evaluate("Object.keys(window.proclab.ws.files())")) == sorted(before["files"])

        # 5. everything back as it was, through the same Save
        cm_set(page, original_md)
        page.keyboard.press("Control+s")
        page.wait_for_function("!document.getElementById('lesson-title').textContent.includes('(edited)')",
                               timeout=15_000)
        page.click(".code-tab[data-file='main.py']")
        cm_set(page, original)
        page.keyboard.press("Control+s")
        page.wait_for_function("!document.querySelector('.code-tab.dirty')", timeout=15_000)
        after = ui.server.http.get(f"/api/lessons/{lesson}").json()
        assert after["files"] == before["files"] and after["title"] == before["title"]
    finally:
        # whatever happened above, the repository's lesson is left as it was
        for name, content in (("main.py", original), ("lesson.md", original_md)):
            r = ui.server.http.put(f"/api/lessons/{lesson}/files/{name}", json={"content": content}, headers=auth)
            assert r.status_code == 200, r.text


def test_a_student_gets_no_save_button(ui: Page) -> None:
    page = ui.goto("/lessons/" + lesson_id(ui.server, "fork-basics"))
    page.wait_for_function("window.proclab && window.proclab.ws")
    page.wait_for_timeout(300)  # /api/me has answered
    assert page.locator(".code-save").count() == 0
    assert page.locator("#author").is_hidden()
    assert page.locator(".code-tab[data-file='lesson.md']").count() == 0
    assert page.locator(".code-keys").inner_text().startswith("Ctrl+Enter runs")


def test_step_mode_chosen_before_run_paces_the_run_from_its_first_call(ui: Page) -> None:
    posts: list[tuple[str, str | None]] = []
    ui.page.on("request", lambda r: posts.append((r.url, r.post_data)) if r.method == "POST" else None)
    page = ui.goto("/lessons/" + lesson_id(ui.server, "fork-basics"))
    page.wait_for_function("window.proclab && window.proclab.ws")
    page.click("#btn-stepmode")
    page.click("#btn-run")
    page.wait_for_function("window.proclab.run.phase === 'running'", timeout=RUN_TIMEOUT)
    created = [json.loads(body or "{}") for url, body in posts if url.endswith("/api/runs")]
    assert created and created[0]["pace"] == {"mode": "step", "delay_ms": 0}
    assert not [url for url, _ in posts if url.endswith("/pace")]  # no second request to pace it
    # held after its first traced calls (the fork): the 5 lines of the lesson do not all come without a Step
    page.wait_for_timeout(1500)
    lines = lambda: page.evaluate(  # noqa: E731
        "window.proclab.ws.timeline.events.filter(e => e.type === 'io.output')"
        ".map(e => e.text).join('').split('\\n').filter(Boolean).length")
    held = lines()
    assert held < 5, held
    assert page.evaluate("window.proclab.run.phase") == "running"
    assert page.locator("#run-status").inner_text().startswith("Step mode")
    for _ in range(60):  # each Step lets the next traced call through
        page.click("#btn-step")
        page.wait_for_timeout(200)
        if lines() >= 5 or page.evaluate("window.proclab.run.phase") == "finished":
            break
    assert lines() > held
    if page.evaluate("window.proclab.run.phase") != "finished":
        page.click("#btn-stop")
    ui.wait_finished()


def test_csp_enforced_instructor_pages_without_a_single_violation(browser: Any, server: Server) -> None:
    """Save, Check lesson, the lesson.md tab, the room's QR code and the import control under the real CSP."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.goto(f"{server.base}/signin")
        page.fill("#token", server.secret)
        page.click("button[type=submit]")
        page.wait_for_url(server.base + "/")
        page.locator("#import-box:not([hidden])").wait_for()
        lesson = lesson_id(server, "fork-basics")
        response = page.goto(f"{server.base}/lessons/{lesson}")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.locator(".code-tab[data-file='lesson.md']").wait_for()
        page.locator(".code-save").click()  # an unchanged main.py: saved as it is
        page.locator(".code-saved", has_text="Saved").wait_for(timeout=15_000)
        page.locator("#author-check").click()
        page.locator(".check-summary.check-ok").wait_for(timeout=RUN_TIMEOUT)
        page.goto(f"{server.base}/")
        page.locator("#room-create:not([hidden])").click()
        page.wait_for_url("**/room/*")
        page.locator("#room-qr svg path").first.wait_for()
        page.locator("#room-project").click()
        page.locator("#projector-qr svg").wait_for()
        page.keyboard.press("Escape")
        page.locator("#room-clients", has_text="students connected").wait_for(timeout=10_000)
    finally:
        context.close()
    assert not problems, problems


# ---------------------------------------------------------------------------------------------
# The Chinese page shows Chinese everywhere: the views, the banner, the tooltips, at every moment of a run.

# Text a student reads but that is not UI prose: code (editor, <code>, <pre>, <kbd>), program output
# (the terminal's lines, the bytes previewed in the IPC view), and a process's own name or command line.
NOT_PROSE = (".CodeMirror, code, pre, kbd, samp, script, style, .term-line:not(.term-note) .term-text, "
             ".tnode .tpid, [data-l='en']")

# A visible text node (or an SVG <title>, shown on hover) with two or more English words in a row, or a
# text that is, whole, an English UI string whose Chinese differs ("Running", "Terminal").
ENGLISH_PROSE_JS = r"""([skip, english, phrases, extra]) => {
  const english_ui = new Set(english);
  // In the views (generated from events) and their tooltips, any part of a text that is an English UI
  // phrase ("sleeping", "reading fd 3") gives it away too.
  const english_parts = new Set(phrases);
  const parts = (text) => text.split(/\s*[—·\n()（）,，]\s*/).map((x) => x.trim()).filter(Boolean);
  const generated = (text) => parts(text).some((x) => english_parts.has(x));
  const words = /\b[A-Za-z][a-z]+(?:[ ,’'-]+[A-Za-z][a-z]+)+\b/;
  const found = [];
  // The processes' own names and command lines ("python reader.py") are proper names, wherever shown.
  const names = new Set();
  const procs = window.proclab && window.proclab.ws ? window.proclab.ws.live.procs.values() : [];
  for (const p of procs) {
    if (p.name) names.add(p.name);
    if (p.argv && p.argv.length) {
      names.add(p.argv.join(' '));
      names.add([p.argv[0].split('/').pop(), ...p.argv.slice(1)].join(' '));
    }
  }
  const byLength = [...names].filter((x) => x.length > 1).sort((a, b) => b.length - a.length);
  const withoutNames = (text) => {
    for (const name of byLength) text = text.split(name).join(' ');
    return text;
  };
  const visible = (el) => {
    if (!el || !el.isConnected) return false;
    if (el.closest('[hidden], [aria-hidden="true"]')) return false;
    const target = el.tagName.toLowerCase() === 'title' ? el.parentElement : el;
    return !!target && (target.checkVisibility ? target.checkVisibility() : target.getClientRects().length > 0);
  };
  for (const text of extra || []) {
    if (words.test(withoutNames(text)) || generated(text)) found.push(`tooltip: ${text}`);
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    const text = n.textContent.replace(/\s+/g, ' ').trim();
    if (!text || !el || el.closest(skip) || !visible(el)) continue;
    const inView = !!el.closest('.workspace');
    if (words.test(withoutNames(text)) || english_ui.has(text) || (inView && generated(text))) {
      found.push(`${el.tagName.toLowerCase()}.${[...el.classList].join('.')}: ${text}`);
    }
  }
  return found;
}"""

# Lessons whose runs block in many ways: wait, pipes, FIFOs, threads, signals, a multiprocessing queue.
CHINESE_LESSONS = ["wait-waitpid", "pipe-basics", "fifo-named-pipe", "threads-gil", "signals",
                   "multiprocessing-queue"]


def lane_tips(page: Any) -> list[str]:
    """The swimlanes' hover texts: the mouse swept along every lane (the lanes are drawn on a canvas)."""
    canvas = page.locator(".lanes-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    tips: set[str] = set()
    if not box:
        return []
    for label in page.locator(".lane-label").all():
        row = label.bounding_box()
        if not row or not box["y"] <= row["y"] + row["height"] / 2 <= box["y"] + box["height"]:
            continue
        for i in range(1, 24):
            page.mouse.move(box["x"] + box["width"] * i / 24, row["y"] + row["height"] / 2)
            tip = page.locator(".lanes-tip")
            if tip.is_visible():
                tips.add(tip.inner_text())
    page.mouse.move(0, 0)
    return sorted(tips)


def english_prose(page: Any, extra: list[str] | None = None) -> list[str]:
    from app import i18n

    en, zh = i18n.catalogue(i18n.Lang.EN), i18n.catalogue(i18n.Lang.ZH)
    # Whole UI labels ("Running", "Terminal", a topic chip "pipe"); names in capitals ("FIFO") are also what
    # the Chinese text of a lesson calls them.
    ui_words = sorted(v for k, v in en.items() if v != zh[k] and re.match(r"[A-Za-z][a-z]{3}", v))
    phrases = sorted(v for k, v in en.items() if v != zh[k] and re.search(r"[A-Za-z]{4}", v) and "{" not in v)
    return page.evaluate(ENGLISH_PROSE_JS, [NOT_PROSE, ui_words, phrases, extra or []])


@pytest.mark.parametrize("lesson", CHINESE_LESSONS)
def test_chinese_page_shows_no_english_prose(browser: Any, server: Server, lesson: str) -> None:
    p = Page(browser, server, locale="zh-CN")
    try:
        page = p.run_lesson(lesson_id(server, lesson))
        assert page.locator("html").get_attribute("data-lang") == "zh"
        p.wait_finished()
        found = {f"after the run: {x}" for x in english_prose(page)}
        # Go back to every moment a process or thread became blocked (one per kind of wait), and to the end.
        moments = page.evaluate("""() => {
            const seen = new Set(), out = [];
            window.proclab.ws.timeline.events.forEach((e, i) => {
                if ((e.type === 'proc.state' || e.type === 'proc.thread.state') && e.state === 'blocked') {
                    const code = e.why ? e.why.code : e.reason;
                    if (!seen.has(code)) { seen.add(code); out.push([i + 1, code]); }
                }
            });
            return out;
        }""")
        assert moments, f"{lesson}: no process was ever blocked"
        for n, code in moments:
            page.evaluate("(n) => window.proclab.ws.seekCount(n)", n)
            page.wait_for_timeout(250)
            blocked = page.locator(".tree-nodes .tnode.st-blocked")
            assert blocked.count() or code is None or page.locator(".tree-nodes .tnode").count(), lesson
            found |= {f"at event {n} ({code}): {x}" for x in english_prose(page)}
        page.evaluate("window.proclab.ws.goLive()")
        page.wait_for_timeout(250)
        banner = page.locator(".banner")
        assert banner.is_visible() and re.search(r"[\u4e00-\u9fff]", banner.inner_text()), banner.inner_text()
        found |= {f"live again: {x}" for x in english_prose(page)}
        tips = lane_tips(page)
        assert any(re.search(r"[\u4e00-\u9fff]", x) for x in tips), f"{lesson}: no swimlane tooltip: {tips}"
        found |= {f"swimlanes: {x}" for x in english_prose(page, tips)}
        p.shot(f"zh-{lesson}")
        assert not found, f"{lesson}: English prose on the Chinese page:\n" + "\n".join(sorted(found))
        p.check_clean()
    finally:
        p.close()


@pytest.mark.parametrize("path", ["/", "/signin"])
def test_chinese_pages_without_a_run_show_no_english_prose(browser: Any, server: Server, path: str) -> None:
    p = Page(browser, server, locale="zh-CN")
    try:
        page = p.goto(path)
        assert page.locator("html").get_attribute("data-lang") == "zh"
        found = english_prose(page)
        assert not found, f"{path}: English prose on the Chinese page:\n" + "\n".join(found)
        p.check_clean()
    finally:
        p.close()
