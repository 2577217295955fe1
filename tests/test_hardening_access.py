"""Issue 15, other people's runs and the instructor's door, against real servers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from conftest import Server, cookie_header, http_client, start_server, stop_server

SLEEP = {"files": {"main.py": "import time\nprint('started', flush=True)\ntime.sleep(%s)\n"}}


def auth(server: Server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.secret}"}


def browser(server: Server) -> httpx.Client:
    c = http_client(server.base, timeout=30)
    c.get("/healthz")  # its own pl_client cookie
    return c


def sleeper(seconds: float) -> dict:
    return {"files": {"main.py": SLEEP["files"]["main.py"] % seconds}}


def ws_url(server: Server, path: str) -> str:
    return server.base.replace("http", "ws") + path


async def ws_close_code(url: str, **kw: object) -> tuple[int | None, str, int]:
    """(close code, reason, frames received) of a WebSocket read to its end."""
    frames = 0
    try:
        async with websockets.connect(url, **kw) as ws:  # type: ignore[arg-type]
            async for _ in ws:
                frames += 1
            return ws.close_code, ws.close_reason or "", frames
    except websockets.exceptions.ConnectionClosed as e:
        return (e.rcvd.code if e.rcvd else None), (e.rcvd.reason if e.rcvd else ""), frames
    except websockets.exceptions.InvalidStatus as e:
        return e.response.status_code, "", frames


def test_a_run_belongs_to_its_owner_instructors_and_its_share_link(server: Server) -> None:
    owner, other = browser(server), browser(server)
    created = owner.post("/api/runs", json={"files": {"main.py": "print('secret source')\n"}}).json()
    run_id, share = created["id"], created["share"]
    assert len(share) >= 20
    server.wait(run_id)
    for path in (f"/api/runs/{run_id}", f"/api/runs/{run_id}/events", f"/api/runs/{run_id}/export",
                 f"/runs/{run_id}"):
        assert owner.get(path).status_code == 200, path
        assert other.get(path).status_code == 403, path
        assert other.get(path, params={"share": share}).status_code == 200, path
        assert other.get(path, params={"share": share[:-1] + "x"}).status_code == 403, path
        assert httpx.get(server.base + path, headers=auth(server)).status_code == 200, path
    page = owner.get(f"/runs/{run_id}").text
    assert f"/runs/{run_id}?share={share}" in page  # the link is on the page
    # Opening the share link lets the page's own requests (events, WebSocket, export) through.
    friend = browser(server)
    assert friend.get(f"/runs/{run_id}", params={"share": share}).status_code == 200
    assert friend.get(f"/api/runs/{run_id}/events").status_code == 200
    assert friend.get(f"/api/runs/{run_id}/export").status_code == 200
    stranger = browser(server)
    code, _, _ = asyncio.run(ws_close_code(ws_url(server, f"/ws/runs/{run_id}"),
                                           additional_headers=cookie_header(stranger)))
    assert code == 4403
    code, _, frames = asyncio.run(ws_close_code(ws_url(server, f"/ws/runs/{run_id}?share={share}")))
    assert frames >= 1 and code in (1000, None)
    code, _, frames = asyncio.run(ws_close_code(ws_url(server, f"/ws/runs/{run_id}"),
                                                additional_headers=cookie_header(friend)))
    assert frames >= 1


def test_run_list_shows_only_the_callers_runs(server: Server) -> None:
    a, b = browser(server), browser(server)
    mine = a.post("/api/runs", json={"files": {"main.py": "pass\n"}}).json()["id"]
    theirs = b.post("/api/runs", json={"files": {"main.py": "pass\n"}}).json()["id"]
    server.wait(mine)
    server.wait(theirs)
    listed = {r["id"] for r in a.get("/api/runs").json()}
    assert mine in listed and theirs not in listed
    everyone = {r["id"] for r in a.get("/api/runs", headers=auth(server)).json()}
    assert {mine, theirs} <= everyone


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(tmp_path_factory.mktemp("capped"), {
        "PROCLAB_MAX_RUNS_PER_IP": "2", "PROCLAB_MAX_RUNS_PER_CLIENT": "3", "PROCLAB_MAX_WS_PER_IP": "3",
        "PROCLAB_SIGNIN_PER_MINUTE": "3", "PROCLAB_SESSION_HOURS": "0.001"})
    yield s
    stop_server(s)


def test_per_ip_cap_holds_whatever_the_cookie(capped: Server) -> None:
    ids = []
    for _ in range(2):
        r = browser(capped).post("/api/runs", json=sleeper(20))  # a new cookie each time
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    r = browser(capped).post("/api/runs", json=sleeper(0))
    assert r.status_code == 429 and "your address" in r.json()["detail"]
    for i in ids:
        capped.http.post(f"/api/runs/{i}/stop", headers=auth(capped))
    for i in ids:
        capped.wait(i, 30)
    assert browser(capped).post("/api/runs", json=sleeper(0)).status_code == 201


def test_websockets_per_ip_are_capped(capped: Server) -> None:
    room = capped.http.post("/api/rooms", json={}, headers=auth(capped)).json()
    url = ws_url(capped, f"/ws/rooms/{room['code']}")

    async def scenario() -> tuple[int | None, str]:
        async with websockets.connect(url), websockets.connect(url), websockets.connect(url):
            await asyncio.sleep(0.2)
            code, reason, _ = await ws_close_code(url)
        return code, reason

    code, reason = asyncio.run(scenario())
    assert code == 4429 and "at most 3" in reason

    async def after_leaving() -> int:
        await asyncio.sleep(0.5)
        async with websockets.connect(url) as ws:
            await asyncio.sleep(0.2)
            assert ws.close_code is None
            return 1

    assert asyncio.run(after_leaving()) == 1  # the count went down when they closed


def test_instructor_sessions_are_random_expire_and_end_at_signout(server: Server, capped: Server) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    a, b = http_client(server.base), http_client(server.base)
    for c in (a, b):
        assert c.post("/signin", content=f"token={server.secret}", headers=form).status_code == 303
    sid_a, sid_b = a.cookies["pl_instructor"], b.cookies["pl_instructor"]
    assert sid_a != sid_b and server.secret not in sid_a
    assert a.get("/api/me").json()["instructor"] is True
    kept = sid_a
    assert a.post("/signout").status_code == 303
    replay = http_client(server.base, cookies={"pl_instructor": kept})
    assert replay.get("/api/me").json()["instructor"] is False  # revoked, not just deleted in the browser
    assert b.get("/api/me").json()["instructor"] is True
    # capped: sessions last 3.6 s
    c = http_client(capped.base)
    assert c.post("/signin", content=f"token={capped.secret}", headers=form).status_code == 303
    assert c.get("/api/me").json()["instructor"] is True
    time.sleep(4)
    assert c.get("/api/me").json()["instructor"] is False


def test_signin_is_rate_limited_per_ip(capped: Server) -> None:
    c = http_client(capped.base)
    codes = [c.post("/signin", content="token=wrong", headers={"content-type": "application/x-www-form-urlencoded"})
             .status_code for _ in range(4)]
    assert codes[0] == 401 and codes[-1] == 429  # at most 3 a minute (one went to the session test)
    r = c.post("/signin", content=f"token={capped.secret}", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60


def test_cross_site_requests_and_websockets_are_403(server: Server) -> None:
    evil = {"Origin": "http://evil.example"}
    lesson = server.http.get("/api/lessons").json()[0]["id"]
    for method, path, kw in (("POST", "/api/runs", {"json": {"files": {"main.py": "pass"}}}),
                             ("POST", "/api/rooms", {"json": {}}),
                             ("POST", f"/api/lessons/{lesson}/check", {}),
                             ("POST", "/api/runs/import", {"content": b"{}"}),
                             ("POST", "/signin", {"content": b"token=x"})):
        r = server.http.request(method, path, headers={**evil, **auth(server)}, **kw)
        assert r.status_code == 403 and "cross-site" in r.text, (path, r.text)
    form_post = server.http.post("/api/rooms", headers={"Sec-Fetch-Site": "cross-site", **auth(server)}, json={})
    assert form_post.status_code == 403
    same = server.http.post("/api/runs", json={"files": {"main.py": "pass"}},
                            headers={"Origin": server.base})
    assert same.status_code == 201
    server.wait(same.json()["id"])
    room = server.http.post("/api/rooms", json={}, headers=auth(server)).json()
    url = ws_url(server, f"/ws/rooms/{room['code']}")
    code, _, _ = asyncio.run(ws_close_code(url, origin="http://evil.example"))
    assert code == 403
    code, _, _ = asyncio.run(_opens(url, server.base))
    assert code is None


async def _opens(url: str, origin: str) -> tuple[int | None, str, int]:
    async with websockets.connect(url, origin=origin) as ws:  # type: ignore[arg-type]
        await asyncio.sleep(0.2)
        return ws.close_code, "", 0


def test_reserved_client_ids_cannot_be_forged(server: Server, tmp_path: Path) -> None:
    forger = http_client(server.base, cookies={"pl_client": "instructor-check"}, timeout=30)
    ids = [forger.post("/api/runs", json=sleeper(20)).json()["id"] for _ in range(3)]
    lesson = next(x["id"] for x in server.http.get("/api/lessons").json() if "fork" in x["id"])
    try:
        r = server.http.post(f"/api/lessons/{lesson}/check", headers=auth(server), timeout=90)
        assert r.status_code == 200, r.text
        assert r.json()["ok"] is True
    finally:
        for i in ids:
            forger.post(f"/api/runs/{i}/stop")
        for i in ids:
            server.wait(i)


def test_docs_and_api_get_the_security_headers(server: Server) -> None:
    docs = server.http.get("/docs")
    assert docs.status_code == 200
    assert "frame-ancestors 'self'" in docs.headers["content-security-policy"]
    assert docs.headers["x-content-type-options"] == "nosniff"
    assert docs.headers["referrer-policy"] == "same-origin"
    assert server.http.get("/api/lessons").headers["x-content-type-options"] == "nosniff"
    # The guards' own answers (they run outside the page headers) had none.
    too_big = server.http.post("/api/runs", content=b"x" * (2 * 2**20), headers={"content-type": "application/json"})
    cross = server.http.post("/api/runs", json={}, headers={"Origin": "http://evil.example"})
    assert (too_big.status_code, cross.status_code) == (413, 403)
    assert too_big.headers["x-content-type-options"] == cross.headers["x-content-type-options"] == "nosniff"


def test_an_error_repeats_at_most_200_characters_of_what_was_sent(server: Server) -> None:
    long_id = "x" * 5000
    for path in (f"/api/runs/{long_id}", f"/api/rooms/{long_id}", f"/api/lessons/{long_id}",
                 f"/api/batches/{long_id}"):
        r = server.http.get(path)
        assert r.status_code == 404 and len(r.content) < 1000, (path, len(r.content))


def test_a_batch_is_for_the_browser_that_started_it_and_instructors(server: Server) -> None:
    # A batch's outcomes are its runs' output: GET /api/batches/{id} answered anyone who had the id.
    owner, other = browser(server), browser(server)
    r = owner.post("/api/batches", json={"files": {"main.py": "print('mine')\n"}, "count": 2})
    assert r.status_code == 201, r.text
    batch_id = r.json()["id"]
    assert owner.get(f"/api/batches/{batch_id}").status_code == 200
    theirs = other.get(f"/api/batches/{batch_id}")
    assert theirs.status_code == 403 and "mine" not in theirs.text and theirs.json()["code"] == "not_your_batch"
    assert other.get(f"/api/batches/{batch_id}", headers=auth(server)).status_code == 200
    assert other.get("/api/batches/bnothere").status_code == 404
