"""The dashboard end to end: a real uvicorn server on 127.0.0.1 over the demo project,
headless Chromium (Debian's, driven by Playwright; never `playwright install`). Every page
loads with no failed request, no console error and no request to another host; the runs
and models are shown; a screenshot of each page is saved."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.serve.conftest import served

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise RuntimeError("CI must run the browser tests: install chromium (`make system`)")
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (`make system` installs it)")
    return CHROMIUM


@pytest.fixture(scope="module")
def server(demo):
    """The dashboard served by uvicorn in a thread on a free loopback port."""
    from fastapi import FastAPI

    from headwater.serve.dashboard import router

    app = FastAPI()
    app.include_router(router(demo))
    with served(app) as url:
        yield url


def test_every_page_loads_in_chromium_with_no_error(chromium, server, demo, tmp_path):
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    hosts: set[str] = set()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))
            page.on(
                "response",
                lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None,
            )
            page.on(
                "console",
                lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("request", lambda r: hosts.add(urlparse(r.url).hostname or r.url))

            page.goto(server + "/")
            assert "Production model" in page.inner_text("main")
            # follow the overview's links: the navigation, then a run of the table
            links = page.eval_on_selector_all(
                "header nav a, table.runs a", "els => els.map(e => e.getAttribute('href'))"
            )
            pages = list(dict.fromkeys(["/", *links]))
            assert {"/ui/runs", "/ui/dataset", "/ui/models"} <= set(pages)
            assert any(u.startswith("/ui/runs/") for u in pages)
            shots = []
            for i, url in enumerate(pages):
                response = page.goto(server + url)
                assert response is not None and response.status == 200, url
                shot = tmp_path / f"page{i}.png"
                page.screenshot(path=str(shot), full_page=True)
                shots.append(shot)
                text = page.inner_text("main")
                if url == "/ui/runs":
                    for r in demo.history(limit=None):
                        assert page.locator(f'a[href="/ui/runs/{r["id"]}"]').count() >= 1
                if url == "/ui/models":
                    for m in demo.models().models:
                        assert f"v{m['version']}" in text
                    assert page.locator("svg.chart").count() >= 1
                    assert page.locator("svg.matrix rect.cm").count() == 4
            assert problems == []
            # a run that does not exist: a 404 page naming it, whose assets all load (the
            # browser reports the document's own 404, and nothing else)
            response = page.goto(server + "/ui/runs/99999")
            assert response is not None and response.status == 404
            assert "no run with id '99999'" in page.inner_text("main")
            assert page.locator("header nav a").count() == 4  # the stylesheet's page
            assert sorted(problems) == [
                "404: " + server + "/ui/runs/99999",
                "console: Failed to load resource: the server responded with a status of 404 "
                "(Not Found)",
            ]
        finally:
            browser.close()
    assert hosts == {"127.0.0.1"}
    for shot in shots:
        data = shot.read_bytes()
        assert len(data) > 1000 and data.startswith(PNG), shot
