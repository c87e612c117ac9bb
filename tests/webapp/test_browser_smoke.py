"""The browser toolchain works: Playwright drives the machine's headless Chromium against a page served over real
HTTP on this machine, submits a form (no JavaScript, as the web app's pages) and takes a screenshot."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.support.stores import served

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Smoke</title></head>
<body><h1>Presses: <output id="count">{count}</output></h1>
<form method="post" action="/press"><button type="submit">Press me</button></form></body></html>"""


def counter_app() -> tuple[Starlette, list[str]]:
    """A page with a counter and a form that increments it (POST, then redirect); also returns the log of POSTs."""
    posts: list[str] = []

    async def show(request: Request) -> Response:
        return HTMLResponse(PAGE.format(count=len(posts)))

    async def press(request: Request) -> Response:
        posts.append(request.headers.get("user-agent", ""))
        return RedirectResponse("/", status_code=303)

    return Starlette(routes=[Route("/", show), Route("/press", press, methods=["POST"])]), posts


def test_chromium_clicks_a_button_and_takes_a_screenshot(page: Page, tmp_path: Path) -> None:
    app, posts = counter_app()
    with served(app, "smoke") as root:
        page.goto(root)
        expect(page.locator("#count")).to_have_text("0")
        page.get_by_role("button", name="Press me").click()
        expect(page.locator("#count")).to_have_text("1")
        page.get_by_role("button", name="Press me").click()
        expect(page.locator("#count")).to_have_text("2")
        shot = tmp_path / "smoke.png"
        page.screenshot(path=str(shot), full_page=True)

    assert len(posts) == 2
    assert "HeadlessChrome" in posts[0], f"not driven by headless Chromium: {posts[0]!r}"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 1000
