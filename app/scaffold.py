"""python -m app new SLUG: a lesson skeleton that loads and passes its own check."""

from __future__ import annotations

import re

from .settings import Settings

TEMPLATE = """---
id: {slug}
order: {order}
topic: {topic}
title:
  en: "{title}"
  zh: "{title}"
summary:
  en: "One sentence on what the student will see."
  zh: "一句话说明学生将看到什么。"
objectives:
  en: ["Predict what the program prints"]
  zh: ["预测程序会打印什么"]
limits:
  wall_s: 10
expect:
  - processes: {{min: 2, max: 2}}
  - output_contains: "child"
  - finished: ok
questions:
  - id: lines
    prompt:
      en: "How many lines does the program print?"
      zh: "程序一共打印几行？"
    answer: {{metric: output_line_count}}
---
<!-- lang: en -->
# {title}

Explain the idea, then walk through `main.py`.

<!-- lang: zh -->
# {title}

讲解概念，然后逐行说明 `main.py`。
"""

MAIN = '''import os

pid = os.fork()
if pid == 0:
    print("child", os.getpid())
    os._exit(0)
os.wait()
print("parent", os.getpid(), "reaped its child", pid)
'''


def scaffold(settings: Settings, slug: str) -> int:
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", slug):
        print(f"the slug must be lowercase letters, digits and '-', got {slug!r}")
        return 2
    folder = settings.lessons_dir / slug
    if folder.exists():
        print(f"{folder} already exists")
        return 2
    existing = [p for p in settings.lessons_dir.glob("*/lesson.md")]
    folder.mkdir(parents=True)
    title = slug.replace("-", " ").capitalize()
    (folder / "lesson.md").write_text(TEMPLATE.format(slug=slug, order=(len(existing) + 1) * 10 + 1000,
                                                      topic=slug.split("-")[0], title=title), encoding="utf-8")
    (folder / "main.py").write_text(MAIN, encoding="utf-8")
    print(f"created {folder}/lesson.md and main.py; check it with: python -m app check {slug}")
    return 0
