"""The catalogues: every code an event can carry has words in both languages, and the pages use them."""

from __future__ import annotations

import html as htmllib
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT, SCHEMA, Server

from app import i18n
from app.i18n import Lang

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def then_of(event_type: str) -> dict[str, Any]:
    return next(a["then"] for a in SCHEMA["allOf"] if a["if"]["properties"]["type"]["const"] == event_type)


def enum(event_type: str, *path: str) -> list[str]:
    node: Any = then_of(event_type)["properties"]
    for part in path:
        node = node[part]
        if "$ref" in node:  # shared definitions ("#/$defs/why")
            node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return [v for v in node["enum"] if v is not None]


# (catalogue prefix, codes from the schema): every code the UI turns into words.
CODES: list[tuple[str, list[str]]] = [
    ("why", enum("proc.state", "why", "properties", "code")),
    ("why", enum("proc.thread.state", "why", "properties", "code")),
    ("limit", enum("run.limit", "limit")),
    ("limitName", enum("run.limit", "limit")),
    ("outcome", enum("run.finished", "outcome", "properties", "code")),
    ("runStatus", enum("run.finished", "status")),
    ("state", enum("proc.state", "state")),
    ("state", enum("proc.thread.state", "state")),
    ("pace", enum("run.pace", "mode")),
    ("kind", enum("ipc.channel", "kind")),
    ("end", enum("ipc.end", "end")),
]


@pytest.mark.parametrize("lang", list(Lang))
@pytest.mark.parametrize(("prefix", "codes"), CODES, ids=[f"{p}-{i}" for i, (p, _) in enumerate(CODES)])
def test_every_code_of_the_schema_has_words(lang: Lang, prefix: str, codes: list[str]) -> None:
    assert codes, f"no {prefix} codes found in the schema"
    cat = i18n.catalogue(lang)
    missing = [f"{prefix}.{c}" for c in codes if not cat.get(f"{prefix}.{c}")]
    assert not missing, f"static/i18n/{lang}.json lacks {missing}"


def test_both_catalogues_have_the_same_keys_and_placeholders() -> None:
    en, zh = i18n.catalogue(Lang.EN), i18n.catalogue(Lang.ZH)
    assert sorted(set(en) - set(zh)) == [], "keys only in en.json"
    assert sorted(set(zh) - set(en)) == [], "keys only in zh.json"
    for key, text in en.items():
        assert sorted(PLACEHOLDER.findall(zh[key])) == sorted(PLACEHOLDER.findall(text)), f"placeholders of {key}"
        assert zh[key].strip(), f"empty Chinese text for {key}"


def test_limit_sentences_need_only_the_numbers_a_limit_event_carries() -> None:
    from app.sandbox.limits import LIMIT_PARAMS, Limits

    for limit in enum("run.limit", "limit"):
        params = Limits().params(limit, count=2)
        assert set(params) >= set(LIMIT_PARAMS[limit])
        for lang in Lang:
            text = i18n.translate(lang, f"limit.{limit}", **params)
            assert not PLACEHOLDER.search(text), f"limit.{limit} in {lang}: {text}"


def test_translate_fills_placeholders_and_falls_back() -> None:
    assert i18n.translate(Lang.ZH, "status.queued", n=3) == "正在排队（第 3 位）"
    assert i18n.translate(Lang.EN, "status.queued", n=3) == "Waiting for a free slot (position 3)"
    assert i18n.translate(Lang.ZH, "no.such.key") == "no.such.key"
    assert i18n.to_lang("zh-CN") is Lang.ZH and i18n.to_lang(None) is Lang.EN


def test_no_sentences_for_the_ui_in_the_sandbox() -> None:
    # Words a user reads live in the catalogues; the sandbox sends codes and numbers.
    for path in (ROOT / "app" / "sandbox").glob("*.py"):
        src = path.read_text(encoding="utf-8")
        assert not re.search(r"[\u4e00-\u9fff]", src), f"{path.name}: Chinese text outside the catalogues"
        assert '"message": {' not in src, f"{path.name}: an {{en, zh}} message in an event"


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("path", ["/", "/signin"])
def test_pages_render_from_the_catalogue_in_each_language(server: Server, path: str) -> None:
    zh = httpx.get(server.base + path, cookies={"lang": "zh"}, timeout=10).text
    en = httpx.get(server.base + path, cookies={"lang": "en"}, timeout=10).text
    cat_zh, cat_en = i18n.catalogue(Lang.ZH), i18n.catalogue(Lang.EN)
    assert cat_zh["footer.text"] in zh and cat_en["footer.text"] in en
    assert cat_en["footer.text"] not in zh and cat_zh["footer.text"] not in en
    assert 'data-i18n="footer.text"' in zh
    # every data-i18n element shows its catalogue text in the page's language
    for key, text in re.findall(r'<span data-i18n="([\w.-]+)">([^<]*)</span>', zh):
        assert text == cat_zh[key].replace("&", "&amp;"), key


def test_templates_name_only_known_keys() -> None:
    keys = set(i18n.catalogue(Lang.EN))
    used: set[str] = set()
    for path in Path(ROOT / "templates").glob("*.html"):
        used |= set(re.findall(r"\b(?:T|TA|t|has)\(\s*'([\w.-]+)'\s*[,)]", path.read_text(encoding="utf-8")))
    assert used and not used - keys, f"unknown keys {sorted(used - keys)}"


def test_every_lesson_topic_has_words(server: Server) -> None:
    topics = {lesson["topic"] for lesson in httpx.get(server.base + "/api/lessons", timeout=10).json() if lesson["topic"]}
    assert topics
    for lang in Lang:
        missing = sorted(t for t in topics if f"topic.{t}" not in i18n.catalogue(lang))
        assert not missing, f"static/i18n/{lang}.json names no topic {missing}"
    html = httpx.get(server.base + "/", cookies={"lang": "zh"}, timeout=10).text
    assert '<span class="chip"><span data-i18n="topic.pipe">管道</span></span>' in html


def _codes_in(path: Path, pattern: str) -> set[str]:
    return set(re.findall(pattern, path.read_text(encoding="utf-8")))


def test_every_error_and_health_code_has_words() -> None:
    """The codes a 422 or /healthz can carry (as the code writes them) each have a sentence in both languages."""
    from app.web.submission import NAME_PROBLEMS

    web = ROOT / "app" / "web"
    errors = set().union(*(_codes_in(p, r'\bcode="(\w+)"') for p in web.glob("*.py")))
    errors |= {f"file_name_{p}" for p in NAME_PROBLEMS}
    health = _codes_in(web / "common.py", r'\{"code": "(\w+)"')
    assert {"no_main", "recording_seq", "limit_too_high"} <= errors and {"not_root", "layer_off"} <= health
    for lang in Lang:
        cat = i18n.catalogue(lang)
        missing = sorted({f"error.{c}" for c in errors} - set(cat)) + sorted({f"health.{c}" for c in health} - set(cat))
        assert not missing, f"static/i18n/{lang}.json lacks {missing}"


def test_a_422_carries_a_code_and_its_parameters(server: Server) -> None:
    """What the page turns into the reader's language: ProcLab's own 422s name a catalogue code."""
    cases = [
        ({"files": {"a/b.py": "print(1)"}}, "file_name_slash", {"name": "a/b.py"}),
        ({"files": {"main.py": "print(1)"}, "main": "other.py"}, "no_main", {"main": "other.py"}),
        ({"files": {"main.py": ""}, "limits": {"wall_s": 10 ** 6}}, "limit_too_high", {"limit": "wall_s"}),
    ]
    for body, code, params in cases:
        r = server.http.post("/api/runs", json=body)
        assert r.status_code == 422, r.text
        item = r.json()["detail"][0]
        assert item["code"] == code and params.items() <= item["params"].items(), item
        zh = i18n.translate(Lang.ZH, f"error.{code}", **item["params"])
        assert "{" not in zh and zh != f"error.{code}", zh
    r = server.http.post("/api/runs/import", content=b'{"proclab_recording": 1, "run": {}}\n{"seq": 5, "type": "x"}\n',
                         headers={"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {server.secret}"})
    assert r.status_code == 422 and r.json()["detail"][0]["code"] == "recording_seq", r.text


def test_health_notices_are_shown_in_the_page_language(tmp_path: Path) -> None:
    """/healthz's warnings come with codes; the Chinese front page shows them in Chinese, not English."""
    from conftest import start_server, stop_server

    s = start_server(tmp_path, {"PROCLAB_DISABLE_LAYERS": "seccomp"})
    try:
        h = s.http.get("/healthz").json()
        assert {"code": "layer_off", "params": {"layer": "seccomp"}} in h["notices"], h["notices"]
        english = i18n.translate(Lang.EN, "health.layer_off", layer="seccomp")
        assert english in h["warnings"]  # the English one, for logs and scripts
        zh = visible_text(httpx.get(s.base + "/", cookies={"lang": "zh"}, timeout=10).text)
        assert i18n.translate(Lang.ZH, "health.layer_off", layer="seccomp") in zh
        assert "turned off" not in zh
        en = visible_text(httpx.get(s.base + "/", cookies={"lang": "en"}, timeout=10).text)
        assert english in en
    finally:
        stop_server(s)


def render_zh(bodies: list[tuple[int, Any]]) -> list[str]:
    """What the pages' script (static/js/api.js) shows for these error answers on a Chinese page."""
    import json
    import subprocess

    script = ("import { detailOf } from './static/js/api.js';"
              f"for (const [s, b] of {json.dumps(bodies)}) console.log(detailOf(b, s, 'zh'));")
    out = subprocess.run(["node", "--input-type=module", "-e", script], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True)
    return out.stdout.splitlines()


def test_refusals_carry_codes_and_a_chinese_page_shows_them(server: Server) -> None:
    """ProcLab's own 404/409 answers: a code and its parameters beside the English `detail`; the Chinese
    page shows them in Chinese (the script for API answers, the server for a page a browser opened)."""
    from conftest import http_client

    boss = {"Authorization": f"Bearer {server.secret}"}
    code = server.http.post("/api/rooms", json={"title": "refusals"}, headers=boss).json()["code"]
    s = http_client(server.base, timeout=30)
    assert s.post(f"/api/rooms/{code}/students", json={"name": "小明"}).status_code == 201
    sleeper = {"lesson": "pipe-basics", "files": {"main.py": "import time\ntime.sleep(60)\n"}}
    first = s.post(f"/api/rooms/{code}/my-runs", json=sleeper)
    assert first.status_code == 201, first.text
    run_id = first.json()["id"]
    try:
        busy = s.post(f"/api/rooms/{code}/my-runs", json=sleeper)
    finally:
        server.http.post(f"/api/runs/{run_id}/stop", headers=boss)
    missing = s.get("/api/runs/r-nosuchrun")
    assert busy.status_code == 409 and busy.json()["code"] == "one_run_at_a_time", busy.text
    assert busy.json()["params"] == {"run": run_id} and "one run at a time" in busy.json()["detail"]
    assert missing.status_code == 404 and missing.json()["code"] == "no_run", missing.text
    assert missing.json()["detail"] == "no run r-nosuchrun"  # the English, for API users

    shown = render_zh([(409, busy.json()), (404, missing.json())])
    assert shown == [i18n.translate(Lang.ZH, "error.one_run_at_a_time", run=run_id),
                     i18n.translate(Lang.ZH, "error.no_run", run="r-nosuchrun")], shown
    assert "一次只能有一个运行" in shown[0] and shown[1].startswith("没有运行"), shown

    page = s.get("/lessons/no-such-lesson", headers={"Accept": "text/html", "Cookie": "lang=zh"})
    assert page.status_code == 404 and "text/html" in page.headers["content-type"], page.text[:200]
    assert "没有课程 no-such-lesson" in page.text and "no lesson" not in page.text


# ------------------------------------------------------------ lesson errors: codes and parameters, words per language

def lesson_error_codes() -> set[str]:
    """Every `lessonError.<code>` the loader, the checker and the CLI can name (read from their source)."""
    codes: set[str] = set()
    for path in (ROOT / "app").rglob("*.py"):
        src = path.read_text(encoding="utf-8")
        codes |= set(re.findall(r"\bmsg\(\s*\"([\w.]+)\"", src))
        codes |= {f"what.{w}" for w in re.findall(r"\b_what\(\"(\w+)\"\)", src)}
        codes |= {f"check.{c}" for c in re.findall(r"\bsay\(\"(\w+)\"", src)}
        if "raise LimitError(" in src:  # LimitError(english, "limit_…", …): the code is its second argument
            codes |= set(re.findall(r"^\s+\"(limit_\w+)\",", src, re.M))
    return codes


def test_every_lesson_error_code_has_words_in_both_languages() -> None:
    codes = lesson_error_codes()
    assert {"order_int", "expect_bad", "one_of", "what.state", "limit_unknown", "check.total", "ex_bad"} <= codes
    for lang in Lang:
        cat = i18n.catalogue(lang)
        missing = sorted(c for c in codes if not cat.get(f"lessonError.{c}"))
        assert not missing, f"static/i18n/{lang}.json lacks lessonError.{missing}"


def render_lesson_problem(details: list[dict[str, Any]], lang: str) -> list[str]:
    """What the lesson editor (static/js/api.js lessonProblem) shows for these 422 details on a page in lang."""
    import json
    import subprocess

    script = ("import { lessonProblem } from './static/js/api.js';"
              f"for (const d of {json.dumps(details)}) {{ const p = lessonProblem({{ body: {{ detail: d }} }}, "
              f"'{lang}'); console.log(`${{p.file}}:${{p.line}}: ${{p.message}}`); }}")
    out = subprocess.run(["node", "--input-type=module", "-e", script], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True)
    return out.stdout.splitlines()


def test_a_chinese_editor_shows_a_lesson_save_error_in_chinese(server: Server) -> None:
    """A lesson.md that does not load: the 422 names the file, the line, a code and its parameters; the editor
    shows it in the page's language, nested problems too ("expectation 'state': the state must be …")."""
    lesson = server.http.get("/api/lessons").json()[0]["id"]
    headers = {"Authorization": f"Bearer {server.secret}"}
    text = server.http.get(f"/api/lessons/{lesson}/files/lesson.md", headers=headers).json()["content"]
    broken = {"order": re.sub(r"(?m)^order: \d+$", "order: five", text, count=1),
              "state": text.replace("\nexpect:\n", "\nexpect:\n  - state: sleeping\n", 1)}
    lines = {"order": text.splitlines().index(next(x for x in text.splitlines() if x.startswith("order:"))) + 1,
             "state": text.splitlines().index("expect:") + 2}
    details = []
    for case, content in broken.items():
        assert content != text
        r = server.http.put(f"/api/lessons/{lesson}/files/lesson.md", json={"content": content}, headers=headers)
        assert r.status_code == 422, r.text
        d = r.json()["detail"]
        assert (d["file"], d["line"]) == ("lesson.md", lines[case]), d
        details.append(d)
    order, state = details
    assert order["code"] == "order_int" and order["params"] == {"got": "'five'"}, order
    assert order["message"] == "'order' must be an integer, got 'five'"
    assert state["code"] == "expect_bad" and state["params"]["problem"]["code"] == "one_of", state
    zh = render_lesson_problem(details, "zh")
    assert zh == [f"lesson.md:{lines['order']}: 'order' 必须是整数，实际是 'five'",
                  f"lesson.md:{lines['state']}: 预期 'state'：状态必须是 new, ready, running, blocked, stopped, zombie "
                  "之一，实际是 'sleeping'"], zh
    en = render_lesson_problem(details, "en")
    assert en == [f"lesson.md:{d['line']}: {d['message']}" for d in details], en


BROKEN_LESSON = "---\nid: broken\norder: five\ntitle: x\n---\n<!-- lang: en -->\nx\n<!-- lang: zh -->\nx\n"


def test_the_check_cli_speaks_the_terminals_language(tmp_path: Path) -> None:
    """`python -m app check` words its errors from the catalogue: English by default, Chinese under
    LANG=zh_CN.UTF-8; each names the file and the line."""
    import os
    import subprocess
    import sys

    (tmp_path / "lessons" / "broken").mkdir(parents=True)
    md = tmp_path / "lessons" / "broken" / "lesson.md"
    md.write_text(BROKEN_LESSON, encoding="utf-8")
    (md.parent / "main.py").write_text("print(1)\n")
    base = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANG")}
    base["PROCLAB_LESSONS_DIR"] = str(tmp_path / "lessons")

    def check(lang: str) -> list[str]:  # an unknown id: the errors are printed, no sandbox is started
        r = subprocess.run([sys.executable, "-m", "app", "check", "no-such-lesson"], cwd=ROOT, capture_output=True,
                           text=True, timeout=60, env={**base, "LANG": lang}, stdin=subprocess.DEVNULL)
        assert r.returncode == 2, r.stderr
        return r.stdout.splitlines()

    assert check("zh_CN.UTF-8") == [f"ERROR {md}:3: 'order' 必须是整数，实际是 'five'",
                                    "未知的课程：no-such-lesson；已有："]
    assert check("C.UTF-8") == [f"ERROR {md}:3: 'order' must be an integer, got 'five'",
                                "unknown lesson(s): no-such-lesson; known: "]


def test_a_chinese_front_page_lists_lesson_errors_in_chinese(tmp_path: Path) -> None:
    from conftest import start_server, stop_server

    (tmp_path / "lessons" / "broken").mkdir(parents=True)
    (tmp_path / "lessons" / "broken" / "lesson.md").write_text(BROKEN_LESSON, encoding="utf-8")
    (tmp_path / "lessons" / "broken" / "main.py").write_text("print(1)\n")
    s = start_server(tmp_path, {"PROCLAB_LESSONS_DIR": str(tmp_path / "lessons")})
    try:
        zh = visible_text(httpx.get(s.base + "/", cookies={"lang": "zh"}, timeout=10).text)
        assert "'order' 必须是整数，实际是 'five'" in zh and "must be an integer" not in zh, zh
        en = visible_text(httpx.get(s.base + "/", cookies={"lang": "en"}, timeout=10).text)
        assert "'order' must be an integer, got 'five'" in en
        errors = s.http.get("/api/lessons/errors").json()
        assert [(e["line"], e["code"], e["params"]) for e in errors] == [(3, "order_int", {"got": "'five'"})], errors
    finally:
        stop_server(s)
