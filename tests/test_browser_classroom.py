"""The classroom loop in headless Chromium against a real server and real runs: 30 students in one room
(6 browser pages, 24 HTTP + WebSocket clients), the live histogram with the kernel's answer and a second
round, the wall updating, an exercise going from ✗ to ✓, the progress matrix and the CSV, the projector."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest
from conftest import Server, http_client
from test_browser import CHROMIUM, RUN_TIMEOUT, Page, browser  # noqa: F401 (the fixture)
from websockets.sync.client import connect

pytestmark = [pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(), reason="no chromium"),
              pytest.mark.timeout(400)]

LESSON = "zombie-process"
EXERCISE = "reap-the-zombie"


def auth(server: Server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.secret}"}


def sign_in(p: Page, server: Server) -> None:
    page = p.goto("/signin")
    page.fill("#token", server.secret)
    page.click("button[type=submit]")
    page.wait_for_url(server.base + "/")


class Listener(threading.Thread):
    """A student's room WebSocket: counts the instructor's runs that reach it whole."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.ws = connect(url, max_size=None, legacy=True) if "legacy" in connect.__code__.co_varnames else \
            connect(url, max_size=None)
        self.finished = 0
        self.events = 0

    def run(self) -> None:
        try:
            for msg in self.ws:
                frame = json.loads(msg)
                for ev in frame if isinstance(frame, list) else [frame]:
                    self.events += 1
                    self.finished += ev["type"] == "run.finished"
        except Exception:
            return


def test_thirty_students_predict_run_and_get_graded(browser: Any, server: Server) -> None:  # noqa: F811
    code = server.http.post("/api/rooms", json={"title": "OS 101"}, headers=auth(server)).json()["code"]
    teacher = Page(browser, server)
    projector = Page(browser, server)
    pages = [Page(browser, server, locale="zh-CN" if i % 2 else "en-US") for i in range(6)]
    clients: list[httpx.Client] = []
    listeners: list[Listener] = []
    try:
        sign_in(teacher, server)
        tpage = teacher.goto(f"/room/{code}/class?lesson={LESSON}")
        tpage.wait_for_selector(".hist-card[data-question=zombies]")
        sign_in(projector, server)
        ppage = projector.goto(f"/room/{code}/class?projector=1&lesson={LESSON}")
        assert ppage.locator("#class-wall").count() == 0  # the projector shows no names

        # 6 students in real pages join with a nickname and predict through the form.
        names = ["小明", "Ann", "李雷", "Bob", "韩梅梅", "Zoe"]
        for p, name in zip(pages, names, strict=True):
            sp = p.goto(f"/room/{code}/student?lesson={LESSON}")
            sp.wait_for_selector("body[data-ready=true]")
            sp.fill("#join-name", name)
            sp.click("#join-form button[type=submit]")
            sp.wait_for_selector("#pq-zombies")
            sp.fill("#pq-zombies", "1" if name != "Bob" else "0")
            sp.click(".pq:has(#pq-zombies) button")
            sp.wait_for_function("document.querySelector('.pq:has(#pq-zombies) .pq-state').textContent.length > 0")
        # A second tab of the first student is the same student.
        tab = pages[0].context.new_page()
        tab.goto(f"{server.base}/room/{code}/student")
        tab.wait_for_selector("#join-me:not([hidden])")
        assert "小明" in tab.text_content("#join-me")
        tab.close()

        # 24 more students: HTTP clients, each also on the room's WebSocket.
        ws_url = server.base.replace("http", "ws") + f"/ws/rooms/{code}"
        for i in range(24):
            c = http_client(server.base, timeout=30)
            assert c.post(f"/api/rooms/{code}/students", json={"name": f"student {i}"}).status_code == 201
            answer = "1" if i < 14 else ("0" if i < 22 else "2")
            assert c.post(f"/api/rooms/{code}/predictions",
                          json={"lesson": LESSON, "question": "zombies", "answer": answer}).status_code == 204
            clients.append(c)
            listener = Listener(ws_url)
            listener.start()
            listeners.append(listener)

        # The histogram is live: 30 answered, no reload.
        tpage.wait_for_selector(".hist-card[data-question=zombies] .hist-answered[data-answered='30']", timeout=10_000)
        counts = tpage.eval_on_selector_all(
            ".hist-card[data-question=zombies] .hist-bar",
            "els => Object.fromEntries(els.map(e => [e.dataset.answer, +e.querySelector('.hist-count').textContent]))")
        assert counts == {"1": 19, "0": 9, "2": 2}
        ppage.wait_for_selector(".hist-card[data-question=zombies] .hist-answered[data-answered='30']", timeout=10_000)
        assert tpage.locator(".hist-bar.is-kernel").count() == 0

        # The instructor runs the lesson: every student's WebSocket gets it; the kernel's answer is marked.
        tpage.click("#class-run")
        tpage.wait_for_selector(".hist-card[data-question=zombies] .hist-bar.is-kernel[data-answer='1']",
                                timeout=RUN_TIMEOUT)
        ppage.wait_for_selector(".hist-card[data-question=zombies] .hist-bar.is-kernel[data-answer='1']",
                                timeout=10_000)
        for _ in range(50):  # their frames may still be on the way
            if all(x.finished >= 1 for x in listeners):
                break
            tpage.wait_for_timeout(100)
        assert all(x.finished == 1 for x in listeners), [x.finished for x in listeners]
        assert len({x.events for x in listeners}) == 1  # every student got the same events, none lost

        # Vote again: a second round appears next to the first.
        tpage.click("#class-vote-again")
        tpage.wait_for_selector(".hist-card[data-question=zombies] ol[data-round='2']")
        for c in clients[:10]:
            c.post(f"/api/rooms/{code}/predictions", json={"lesson": LESSON, "question": "zombies", "answer": "1"})
        tpage.wait_for_selector(".hist-card[data-question=zombies] .hist-answered[data-answered='10']", timeout=10_000)
        teacher.shot("class-histogram")

        # An exercise goes from ✗ to ✓ for 小明, and the wall and the matrix follow live.
        sp = pages[0].page
        sp.select_option("#ex-pick", f"{LESSON}/{EXERCISE}")
        sp.click("#ex-run")  # the starter: init reaps the zombie, not the parent
        sp.wait_for_selector("#ex-goals li[data-goal='3'][data-passed='false']", timeout=RUN_TIMEOUT)
        assert sp.locator("#ex-goals li[data-passed='true']").count() == 2
        sid = pages[0].page.evaluate(f"fetch('/api/rooms/{code}/me').then(r => r.json()).then(j => j.id)")
        card = f".wall-card[data-student='{sid}']"
        tpage.wait_for_selector(f"{card} .wall-fail", timeout=10_000)
        cell = f"#class-matrix tr[data-student='{sid}'] td[data-exercise='{LESSON}/{EXERCISE}']"
        tpage.wait_for_selector(f"{cell}[data-state='tried']", timeout=10_000)
        solution = server.http.get(f"/api/lessons/{LESSON}", headers=auth(server)).json()
        code_text = next(e for e in solution["exercises"] if e["id"] == EXERCISE)["solution"]["main.py"]
        sp.evaluate("(src) => window.proclab.editor.setValue(src)", code_text)
        sp.click("#ex-run")
        sp.wait_for_selector("#ex-goals li[data-goal='3'][data-passed='true']", timeout=RUN_TIMEOUT)
        assert sp.locator("#ex-goals li[data-passed='false']").count() == 0
        sp.wait_for_selector("#ex-output:not([hidden])")
        assert "reaped" in sp.text_content("#ex-output") and "exit code 3" in sp.text_content("#ex-output")
        pages[0].shot("student-exercise-passed")
        tpage.wait_for_selector(f"{card}.tone-passed", timeout=10_000)
        tpage.wait_for_selector(f"{cell}[data-state='passed']", timeout=10_000)
        assert tpage.locator(".wall-card").count() == 30

        # The evidence opens the replay at that event.
        href = sp.get_attribute("#ex-goals li[data-goal='3'] a.goal-evidence", "href")
        assert href and "?seq=" in href
        seq = int(href.split("?seq=")[1])
        rp = pages[0].context.new_page()
        rp.goto(server.base + href)
        rp.wait_for_function("window.proclab && window.proclab.ws && window.proclab.ws.ctx.cursor().live === false")
        at = rp.evaluate("(() => { const c = window.proclab.ws.ctx.cursor(); return window.proclab.ws.timeline.events[c.n - 1]; })()")
        assert at["seq"] == seq and at["type"] == "proc.reaped"
        rp.close()

        # Show to class: the projector shows the run.
        run_id = tpage.get_attribute(f"{card} [data-show]", "data-show")
        tpage.click(f"{card} [data-show]")
        ppage.wait_for_selector(f"#class-shown:not([hidden]) iframe[src='/runs/{run_id}']", timeout=10_000)
        projector.shot("class-projector")

        # The CSV: BOM, one row per student, the Chinese nickname intact.
        csv_resp = teacher.context.request.get(f"{server.base}/api/rooms/{code}/progress.csv")
        body = csv_resp.body()
        assert body.startswith(b"\xef\xbb\xbf")
        rows = body.decode("utf-8-sig").splitlines()
        assert len(rows) == 31
        assert any(r.startswith("小明,") and "✓ 2" in r for r in rows)
        teacher.shot("class-wall")
        for p in (teacher, projector, *pages):
            p.check_clean()
    finally:
        for listener in listeners:
            listener.ws.close()
        for c in clients:
            c.close()
        for p in (teacher, projector, *pages):
            p.close()


def test_solo_exercises_keep_progress_in_the_browser_in_chinese(browser: Any, server: Server) -> None:  # noqa: F811
    p = Page(browser, server, locale="zh-CN")
    try:
        page = p.goto("/lessons/fork-basics")
        page.click(".lesson-exercises a[href='/exercises?exercise=fork-basics/fork-two-children']")
        page.wait_for_selector("body[data-ready=true]")
        assert page.input_value("#ex-pick") == "fork-basics/fork-two-children"
        assert "两个子进程" in page.text_content("#ex-goal")
        assert "你的进度：0/" in page.text_content("#ex-progress")
        page.click("#ex-run")
        page.wait_for_selector("#ex-goals li[data-goal='1'][data-passed='false']", timeout=RUN_TIMEOUT)
        assert "还差" in page.text_content("#ex-status")
        page.reload()
        page.wait_for_selector("body[data-ready=true]")
        assert page.locator("#ex-pick option:checked").text_content().startswith("✗")
        p.check_clean()
    finally:
        p.close()
