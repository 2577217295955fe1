"""C in the browser: the editor highlights C, gcc's errors appear at their line in both languages and
nothing runs; a C lesson runs with its processes in the tree (real server, headless Chromium)."""

from __future__ import annotations

from typing import Any

import pytest
import test_browser
from conftest import Server
from test_browser import CHROMIUM, RUN_TIMEOUT, Page

browser = test_browser.browser  # the fixtures of the browser tests, shared
ui = test_browser.ui

pytestmark = [
    pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(), reason="no chromium at " + CHROMIUM),
    pytest.mark.timeout(300),
]

BROKEN = "#include <stdio.h>\n\nint main(void)\n{\n    printf(\"hi\\n\")\n    return 0;\n}\n"


def cm(page: Any, expr: str) -> Any:
    return page.evaluate(f"(() => {{ const cm = document.querySelector('.CodeMirror').CodeMirror; return {expr}; }})()")


def test_c_lesson_is_highlighted_as_c_and_runs(ui: Page) -> None:
    page = ui.run_lesson("c-fork")
    assert cm(page, "cm.getDoc().getMode().name") == "clike"
    keywords = set(page.eval_on_selector_all(".CodeMirror .cm-keyword", "els => els.map(e => e.textContent)"))
    assert {"return", "if"} <= keywords, keywords
    types = set(page.eval_on_selector_all(".CodeMirror .cm-type", "els => els.map(e => e.textContent)"))
    assert {"int", "pid_t"} <= types, types
    assert "#include" in "".join(page.eval_on_selector_all(".CodeMirror .cm-meta", "els => els.map(e => e.textContent)"))
    page.wait_for_function(
        "document.querySelectorAll('.tree-nodes .tnode[data-pid]:not(.tinit)').length >= 2", timeout=RUN_TIMEOUT)
    ui.wait_finished()
    assert "fork() returned 0" in page.locator(".term-screen").first.inner_text()
    note = page.locator(".code-compile")
    assert note.is_visible() and "compiled in" in note.inner_text()
    assert page.locator(".code-problem").is_hidden()
    ui.shot("c-fork-after-run")


@pytest.mark.parametrize(("locale", "title", "severity"), [("en-US", "did not compile", "error"),
                                                             ("zh-CN", "没有通过编译", "错误")])
def test_compile_errors_are_shown_at_their_line_and_nothing_runs(browser: Any, server: Server, locale: str,
                                                                 title: str, severity: str) -> None:
    tab = Page(browser, server, locale=locale)
    try:
        page = tab.run_lesson("c-fork", BROKEN)
        tab.wait_finished()
        banner = page.locator(".code-problem")
        banner.wait_for(state="visible", timeout=10_000)
        assert title in banner.inner_text() and "expected ';'" in banner.inner_text()
        # gcc reports the missing ';' on line 5 (printf) at the token after it, line 6: the mark is on gcc's line
        ev = page.evaluate("window.proclab.ws.timeline.events.find(e => e.type === 'run.compile')")
        line = next(d["line"] for d in ev["diagnostics"] if d["severity"] == "error")
        assert cm(page, f"cm.getLineHandle({line - 1}).wrapClass") == "line-error"
        note = page.locator(".CodeMirror .line-error-note").first
        assert severity in note.inner_text() and "expected ';'" in note.inner_text()
        assert title in page.locator(".code-compile").inner_text()
        assert page.locator(".tree-nodes .tnode[data-pid]:not(.tinit)").count() == 0, "no program started"
        assert page.locator(".banner").inner_text().strip()
        tab.shot(f"c-compile-error-{locale}")
        # Fixed and run again: the marks and the banner go, the program runs.
        cm(page, "cm.setValue(cm.getValue().replace('printf(\"hi\\\\n\")', 'printf(\"hi\\\\n\");'))")
        page.click("#btn-run")
        page.wait_for_function("window.proclab.run.phase === 'finished'", timeout=RUN_TIMEOUT)
        page.wait_for_timeout(400)
        assert page.locator(".code-problem").is_hidden()
        assert page.locator(".CodeMirror .line-error").count() == 0
        assert "hi" in page.locator(".term-screen").first.inner_text()
        tab.check_clean()
    finally:
        tab.close()


def test_python_and_c_lessons_link_to_each_other(ui: Page) -> None:
    page = ui.goto("/lessons/c-fork")
    assert page.locator(".lesson-meta .chip-lang").inner_text() == "C"
    link = page.locator(".lesson-meta a.twin-link")
    assert link.inner_text() == "The same lesson in Python" and link.get_attribute("href") == "/lessons/fork-basics"
    link.click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/lessons/fork-basics")
    assert cm(page, "cm.getDoc().getMode().name") == "python"
    back = page.locator(".lesson-meta a.twin-link")
    assert back.inner_text() == "The same lesson in C" and back.get_attribute("href") == "/lessons/c-fork"
    assert page.locator(".lesson-meta .chip-lang").count() == 0


EXEC_FAILS = ("#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n#include <sys/wait.h>\n\n"
              "int main(void)\n{\n    if (fork() == 0) {\n"
              "        execlp(\"no-such-program\", \"no-such-program\", (char *)NULL);\n"
              "        perror(\"execlp\");\n        exit(1);\n    }\n    wait(NULL);\n    return 0;\n}\n")


@pytest.mark.parametrize(("locale", "words"), [
    ("en-US", "exec of no-such-program failed: no such file or directory (ENOENT)"),
    ("zh-CN", "exec no-such-program 失败：没有那个文件或目录 (ENOENT)")])
def test_a_failed_exec_is_noted_in_the_terminal_and_the_tree(browser: Any, server: Server, locale: str,
                                                             words: str) -> None:
    """The child's execlp returns: the terminal notes it, in the page's language, beside the program's own
    perror(), and the child's node in the tree tells it too."""
    tab = Page(browser, server, locale=locale)
    try:
        page = tab.run_lesson("c-fork", EXEC_FAILS)
        tab.wait_finished()
        term = page.locator(".term-screen").first
        note = term.locator(".term-note")
        note.first.wait_for(state="visible", timeout=10_000)
        assert words in note.first.inner_text()
        assert "execlp: No such file or directory" in term.inner_text()
        child = page.evaluate("[...window.proclab.ws.timeline.events].find(e => e.type === 'proc.exec.failed').pid")
        title = page.locator(f".tree-nodes .tnode[data-pid='{child}'] title").first.text_content() or ""
        assert words in title, title
        tab.check_clean()
    finally:
        tab.close()
