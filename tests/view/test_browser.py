"""The screening page and the app in a real browser: Debian's headless Chromium driven by its
chromedriver through Selenium, offline (SE_OFFLINE: Selenium Manager never downloads).

A generated report page and the running app (uvicorn on 127.0.0.1, in a thread) are opened;
the app gets a synthetic 16-minute interview through its file inputs. Each test checks the
decision text, one timeline element per scored utterance, that clicking an utterance moves
the embedded recording to it, and how long the page took to render after the model's answer
(navigation timing's responseStart to the page's `__reportRendered` mark; < 1 s), and saves
a screenshot under its temporary folder. With DEPSCREEN_SCREENSHOT=PATH the app's page is
also saved there (how docs/screening-view.png is made).

Without chromium and chromedriver these tests fail and say how to install them; they never
skip (`bash dev.sh test` installs them as root).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from depscreen.inference.predict import predict_interview
from depscreen.view.report import write_page

RENDER_LIMIT_S = 1.0
MISSING = ("chromium and chromedriver are needed for the browser tests: run `bash dev.sh test` "
           "as root (it installs Debian's chromium and chromium-driver) or "
           "`apt-get install chromium chromium-driver`")


def _executables() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
    if chromium is None and os.path.exists("/usr/bin/chromium"):
        chromium = "/usr/bin/chromium"
    if chromium is None or driver is None:
        pytest.fail(f"{MISSING} (missing: "
                    f"{', '.join(n for n, p in (('chromium', chromium), ('chromedriver', driver)) if p is None)})",
                    pytrace=False)
    return chromium, driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium, driver = _executables()
    old = os.environ.get("SE_OFFLINE")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download a driver
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is needed for the browser tests: pip install -e '.[test]' "
                    "(bash dev.sh test does)", pytrace=False)
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--mute-audio",
                "--autoplay-policy=no-user-gesture-required", "--window-size=1200,860",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(arg)
    try:
        driver_ = webdriver.Chrome(service=Service(executable_path=driver), options=opts)
    except WebDriverException as e:
        pytest.fail(f"{MISSING}; starting them failed: {str(e).splitlines()[0]}", pytrace=False)
    driver_.set_page_load_timeout(120)
    yield driver_
    driver_.quit()
    if old is None:
        os.environ.pop("SE_OFFLINE", None)
    else:
        os.environ["SE_OFFLINE"] = old


@pytest.fixture(scope="module")
def server(view_loaded, tmp_path_factory):
    """The app on 127.0.0.1 and a free port, in a background thread; its upload folder."""
    import uvicorn

    from depscreen.view.app import create_app

    uploads = tmp_path_factory.mktemp("browser-uploads")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(view_loaded, tmp_parent=uploads), host="127.0.0.1",
                            port=port, access_log=False, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "the app did not start"
    yield f"http://127.0.0.1:{port}", uploads
    srv.should_exit = True
    thread.join(timeout=10)


def _wait(driver, condition, timeout: float = 60.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


def _render_seconds(driver) -> float:
    """From the first byte of the answer to the page's `__reportRendered` mark."""
    _wait(driver, lambda d: d.execute_script("return window.__reportRendered !== undefined"))
    return driver.execute_script(
        "var n = performance.getEntriesByType('navigation')[0];"
        "return (window.__reportRendered - n.responseStart) / 1000;")


def _check_page(driver, result: dict, shot: Path) -> float:
    """Decision, one element per utterance, click-to-play; the render time (s)."""
    from selenium.webdriver.common.by import By

    seconds = _render_seconds(driver)
    assert driver.find_element(By.ID, "decision").text == result["decision"]["label"]
    utts = driver.find_elements(By.CSS_SELECTOR, "#timeline .utt")
    assert len(utts) == len(result["timeline"]) > 0
    _wait(driver, lambda d: d.execute_script(
        "return document.getElementById('player').readyState >= 1"))
    k = len(utts) * 2 // 3
    start = result["timeline"][k]["start"]
    assert abs(float(utts[k].get_attribute("data-start")) - start) < 1e-3
    utts[k].click()
    _wait(driver, lambda d: abs(d.execute_script(
        "return document.getElementById('player').currentTime") - start) < 1.0, 20)
    assert "playing" in utts[k].get_attribute("class")
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 0
    return seconds


def test_report_page_in_the_browser(browser, view_loaded, long_interview, tmp_path):
    result = predict_interview(view_loaded, audio=str(long_interview.audio),
                               transcript=long_interview.transcript)
    page = tmp_path / "report.html"
    write_page(page, result, audio=str(long_interview.audio))
    browser.get(page.as_uri())
    seconds = _check_page(browser, result, tmp_path / "report.png")
    print(f"\nreport page, 16-min interview: rendered in {seconds:.3f} s")
    assert seconds < RENDER_LIMIT_S


def test_app_in_the_browser(browser, server, view_loaded, long_interview, tmp_path):
    from selenium.webdriver.common.by import By

    url, uploads = server
    result = predict_interview(view_loaded, audio=str(long_interview.audio),
                               transcript=long_interview.transcript)
    browser.get(url)
    browser.find_element(By.ID, "audio").send_keys(str(long_interview.audio))
    browser.find_element(By.ID, "transcript").send_keys(str(long_interview.transcript))
    t0 = time.perf_counter()
    browser.find_element(By.ID, "submit").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "decision"), 120)
    answered = time.perf_counter() - t0
    seconds = _check_page(browser, result, tmp_path / "app.png")
    print(f"\napp, 16-min interview: page after {answered:.2f} s; rendered in {seconds:.3f} s "
          "after the answer")
    assert seconds < RENDER_LIMIT_S
    assert list(uploads.iterdir()) == []
    if os.environ.get("DEPSCREEN_SCREENSHOT"):
        shutil.copyfile(tmp_path / "app.png", os.environ["DEPSCREEN_SCREENSHOT"])


def test_app_shows_a_bad_file_error_in_the_browser(browser, server, tmp_path):
    from selenium.webdriver.common.by import By

    url, uploads = server
    bad = tmp_path / "notes.wav"
    bad.write_text("this is a text file, not a recording\n")
    browser.get(url)
    browser.find_element(By.ID, "audio").send_keys(str(bad))
    browser.find_element(By.ID, "submit").click()
    error = _wait(browser, lambda d: d.find_elements(By.ID, "error"), 60)[0]
    assert error.text.startswith("notes.wav: not a readable audio file")
    browser.save_screenshot(str(tmp_path / "error.png"))
    assert list(uploads.iterdir()) == []
