"""The classroom in a real browser (Debian's chromium + chromium-driver, driven by selenium): the
page at a 1024×768 projector's size and a 390×844 phone's, a click on the map and a slider moved by
its keys change the picture, nothing scrolls sideways, and the page contacts no host but the
server. Without chromium these tests skip, saying so (`.ci/run` installs it)."""
from __future__ import annotations

import json
import shutil
import time
from urllib.parse import urlparse

import pytest

pytest.importorskip("gradio", reason="the classroom extra is not installed")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")

DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(not (BROWSER and shutil.which("chromedriver")),
                                reason="chromium and chromium-driver are not installed (apt-get install chromium "
                                       "chromium-driver)")


@pytest.fixture
def server(class_server):
    return class_server


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    o = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--disable-background-networking", "--disable-component-update", "--no-first-run"):
        o.add_argument(a)
    o.binary_location = BROWSER
    o.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    d = webdriver.Chrome(service=Service(DRIVER), options=o)
    yield d
    d.quit()


def wait(d, script: str, timeout: float = 60):
    """Poll the page until ``script`` returns something true (the page's own state, not a clock)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = d.execute_script(script)
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"the page never reached: {script}")


def hosts(d) -> set:
    out = set()
    for e in d.get_log("performance"):
        m = json.loads(e["message"])["message"]
        if m["method"] == "Network.requestWillBeSent":
            u = urlparse(m["params"]["request"]["url"])
            if u.scheme in ("http", "https", "ws", "wss"):
                out.add(u.netloc)
    return out


@pytest.mark.parametrize("size", [(1024, 768), (390, 844)], ids=["projector", "phone"])
def test_the_page_works_in_a_browser(server, browser, size):
    d = browser
    d.set_window_size(*size)
    d.get(server.url)
    wait(d, "return window.LE && LE.token && document.getElementById('le-preview') "
            "&& document.getElementById('le-preview').src.startsWith('data:image/png')")
    wait(d, "return document.querySelectorAll('#le-sliders input[type=range]').length === 8")
    # nothing scrolls sideways
    assert d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
    # a click on the map: the picture and its caption change
    before = d.execute_script("return document.getElementById('le-preview').src")
    n = d.execute_script("return LE.stats.length")
    canvas = d.find_element("id", "le-map")
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(d).move_to_element_with_offset(canvas, 5, 5).click().perform()
    wait(d, f"return LE.stats.length > {n}")
    caption = d.find_element("id", "le-caption").text
    assert caption.startswith("image #") or caption.startswith("map point"), caption
    assert d.execute_script("return document.getElementById('le-preview').src") != before
    # a slider moved with its keys: the picture changes, and its value keeps its sign
    slider = d.find_elements("css selector", "#le-sliders input[type=range]")[0]
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", slider)
    before = d.execute_script("return document.getElementById('le-preview').src")
    n = d.execute_script("return LE.stats.length")
    from selenium.webdriver.common.keys import Keys

    slider.click()
    slider.send_keys(Keys.HOME)
    wait(d, f"return LE.stats.length > {n}")
    wait(d, "return !document.getElementById('le-caption').textContent.startsWith('image')")
    value = d.find_elements("css selector", "#le-sliders output")[0].text
    assert value == "−4.00", value
    assert d.execute_script("return document.getElementById('le-preview').src") != before
    # the preview is wholly in view while the slider moves (a phone scrolls it with the page)
    box = d.execute_script("const r = document.getElementById('le-preview').getBoundingClientRect();"
                           "return [r.top, r.bottom, innerHeight]")
    assert box[0] >= -1 and box[1] <= box[2] + 1, box
    # the page contacted no one but the server
    assert hosts(d) <= {urlparse(server.url).netloc}, hosts(d)
