"""GSI-Real review page in a real headless browser (Debian Chromium + chromedriver via Selenium).

Clicks accept / reject, types a note, uses the keyboard shortcuts, reloads the page and checks
that both the page and the decisions JSONL show the saved decisions. Selenium Manager is never
used (explicit chromedriver and browser paths), so nothing is downloaded.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from gsi_real.review import make_server, read_decisions

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()),
    reason=f"headless browser test needs {CHROMIUM} and {CHROMEDRIVER} "
           "(Debian: apt-get install chromium chromium-driver)")

IDS = [f"real-test-0-{i:06d}" for i in range(3)]


@pytest.fixture()
def server(tmp_path, review_record, write_candidates):
    def colour(i: int) -> np.ndarray:  # red / green / blue per record
        rgb = np.zeros((24, 32, 3), np.uint8)
        rgb[..., i % 3] = 200
        return rgb

    root = write_candidates(tmp_path / "cand", [review_record(i, colour(i), f"Remove cup {i}.") for i in range(3)])
    log = tmp_path / "decisions.jsonl"
    srv = make_server(root, port=0, decisions=log)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    host, port = srv.server_address[:2]
    try:
        yield f"http://{host}:{port}/", log
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(timeout=5)


@pytest.fixture()
def driver(tmp_path, monkeypatch):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    def _no_manager(*_a, **_k):
        raise AssertionError("Selenium Manager must not run (it would download a driver)")

    monkeypatch.setattr(SeleniumManager, "binary_paths", _no_manager)
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-proxy-server", "--window-size=1400,900",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        opts.add_argument(flag)
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    drv.set_page_load_timeout(15)
    try:
        yield drv
    finally:
        drv.quit()


def test_review_page_in_headless_chromium(server, driver, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    url, log = server
    wait = WebDriverWait(driver, 10)
    el = lambda i: driver.find_element(By.ID, i)  # noqa: E731
    text = lambda i: el(i).text  # noqa: E731

    def shown(rid: str, state: str):
        wait.until(lambda d: text("rid") == rid and text("state") == state,
                   message=f"expected {rid} / {state}, page shows {text('rid')} / {text('state')}")

    def saved(decision: str, rid: str):
        wait.until(lambda d: text("status") == f"saved {decision} for {rid}",
                   message=f"no save ack for {decision} {rid}: status={text('status')!r}")

    def keys(*k):
        ActionChains(driver).send_keys(*k).perform()

    driver.get(url)
    assert driver.title == "GSI-Real review"
    shown(IDS[0], "none")
    assert text("pos") == "1 / 3" and text("instr") == "Remove cup 0."
    # the four images of the record are served and decoded by the browser
    wait.until(lambda d: all(d.execute_script("const i=document.getElementById(arguments[0]);"
                                              "return i.complete && i.naturalWidth", f) == 32
                             for f in ("source_image", "target_image", "source_mask", "target_mask")))

    # 1) a note typed into the field, then the Accept button
    el("note").send_keys("looks right")
    el("accept").click()
    saved("accept", IDS[0])
    shown(IDS[1], "none")  # advanced to the next record
    assert el("note").get_attribute("value") == ""

    # 2) the Reject button on the second record
    el("reject").click()
    saved("reject", IDS[1])
    shown(IDS[2], "none")

    # 3) keyboard only on the third: n focuses the note, Escape leaves it, a accepts
    keys("n")
    wait.until(lambda d: d.switch_to.active_element == el("note"))
    keys("by keyboard")
    assert el("note").get_attribute("value") == "by keyboard"  # 'a'/'b'/'y' inside the note are text
    assert text("state") == "none"
    keys(Keys.ESCAPE)
    wait.until(lambda d: d.switch_to.active_element != el("note"))
    keys("a")
    saved("accept", IDS[2])
    shown(IDS[2], "accept")  # last record: stays

    # the log on disk, before the reload
    dec = read_decisions(log)
    assert {k: (v["decision"], v["note"]) for k, v in dec.items()} == {
        IDS[0]: ("accept", "looks right"), IDS[1]: ("reject", ""), IDS[2]: ("accept", "by keyboard")}
    assert len(log.read_text(encoding="utf-8").splitlines()) == 3

    # 4) reload: everything decided -> the page opens on the first record and shows the saved state
    driver.refresh()
    shown(IDS[0], "accept")
    assert "accept" in el("state").get_attribute("class").split()
    assert el("note").get_attribute("value") == "looks right"
    assert text("status") == ""  # a fresh page, not the old DOM
    keys("j")
    shown(IDS[1], "reject")
    assert "reject" in el("state").get_attribute("class").split()
    assert el("note").get_attribute("value") == ""
    keys(Keys.ARROW_RIGHT)
    shown(IDS[2], "accept")
    assert el("note").get_attribute("value") == "by keyboard"
    keys("k")
    shown(IDS[1], "reject")

    # 5) change a decision after the reload: the latest line wins in the JSONL
    el("prev").click()
    shown(IDS[0], "accept")
    el("note").clear()
    el("note").send_keys("wrong depth")
    el("reject").click()
    saved("reject", IDS[0])
    dec = read_decisions(log)
    assert (dec[IDS[0]]["decision"], dec[IDS[0]]["note"]) == ("reject", "wrong depth")
    assert (dec[IDS[1]]["decision"], dec[IDS[2]]["decision"]) == ("reject", "accept")
    assert len(log.read_text(encoding="utf-8").splitlines()) == 4

    shot = tmp_path / "review.png"
    assert driver.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"
