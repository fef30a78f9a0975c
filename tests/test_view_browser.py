"""The page in a real browser: headless Chromium driven by Selenium, clicking through a vase run.

Needs Debian's chromium and chromium-driver (`make setup` installs them when it runs as root
with apt-get); without them these tests skip and say which command installs them. A
screenshot of each view is saved under tests/artifacts/ (gitignored).
"""

import shutil
import sys
import time
from pathlib import Path

import pytest

import ida
from ida.experience import ExperienceDB
from ida.overseer.saved import report_path, save_report
from ida.scenarios import vase
from ida.view import RunInput, open_runs, write_page

CHROMIUM, DRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver") or "/usr/bin/chromedriver"
INSTALL = "apt-get install -y chromium chromium-driver (as root; `make setup` does it when it can)"
ARTIFACTS = Path(__file__).parent / "artifacts"

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed: pip install -e '.[test]'")
if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
    pytest.skip(f"no headless browser: {INSTALL}", allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,900"):
        opts.add_argument(a)
    opts.binary_location = CHROMIUM
    d = webdriver.Chrome(service=webdriver.ChromeService(DRIVER), options=opts)
    yield d
    d.quit()


@pytest.fixture(scope="module")
def vase_page(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vase")
    r = vase.replay(vase.parse_room(vase.DEFAULT_ROOM), ExperienceDB(tmp / "exp.sqlite"))
    one, two = r.first.save(tmp / "run1.jsonl"), r.second.save(tmp / "run2.jsonl")
    save_report(r.report, report_path(one), r.applied)
    runs = open_runs([one, two])
    runs[0].label, runs[1].label = "run 1", "run 2"
    return write_page(tmp / "vase.html", runs), r


def _wait(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError("the page did not get there in time")


def _open(browser, page):
    browser.get(page.resolve().as_uri())
    _wait(lambda: browser.execute_script("return document.body.dataset.ready"))


def _row(browser, node):
    return browser.find_element(By.CSS_SELECTOR, f'#tree .row[data-id="{node}"]')


def _shot(browser, name):
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"view-{name}.png"))


def test_expand_the_root_open_a_workspace_see_the_blame(browser, vase_page):
    page, r = vase_page
    _open(browser, page)
    kids = lambda: browser.find_elements(By.CSS_SELECTOR, "#tree > .node > .kids > .node")  # noqa: E731
    assert len(kids()) == len(r.first.root_node.children)  # the root opens expanded, one level
    toggle = browser.find_element(By.CSS_SELECTOR, "#tree > .node > .row .tog")
    toggle.click()
    assert kids() == []  # collapsed children leave the DOM
    toggle.click()
    assert len(kids()) == len(r.first.root_node.children)
    _shot(browser, "tree")

    blamed = r.report.blamed[0]
    row = _row(browser, blamed)
    assert "blamed" in row.get_attribute("class") and "blamed" in row.text
    assert f"#{blamed}" in browser.find_element(By.ID, "report").text
    _shot(browser, "blame")

    row.click()
    assert "target: carefully" in browser.find_element(By.ID, "node").text
    browser.find_element(By.ID, "open-workspace").click()
    ws = _wait(lambda: browser.find_element(By.ID, "workspace").text)
    assert "lookup vase" in ws and "nothing found" in ws and "database revision 0" in ws
    assert "question: how should I move past the vase?" in ws  # what it saw before its first action
    _shot(browser, "workspace")


def test_the_run_diff_is_marked_where_run_2_changed(browser, vase_page):
    page, r = vase_page
    _open(browser, page)
    browser.find_element(By.CSS_SELECTOR, "#runs button:nth-child(2)").click()
    parted = browser.find_elements(By.CSS_SELECTOR, "#tree .row.parted")
    assert [p.get_attribute("data-id") for p in parted] == [str(r.changed_at)]
    assert "runs part here" in parted[0].text
    assert f"the runs part at #{r.changed_at}" in browser.find_element(By.ID, "diff").text
    parted[0].click()
    browser.find_element(By.ID, "open-workspace").click()
    assert "[e1] vase: vases are fragile" in _wait(lambda: browser.find_element(By.ID, "workspace").text)
    _shot(browser, "diff")


def test_search_and_keys(browser, vase_page):
    page, r = vase_page
    _open(browser, page)
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys("/")
    box = browser.find_element(By.ID, "search")
    assert browser.switch_to.active_element == box
    box.send_keys("chair")
    hits = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#results .hit"))
    chair = next(n.id for n in r.first.nodes if n.question.text() == "how should I move past the chair?")
    mention = [n.id for n in r.first.nodes if "chair" in n.question.text() + (n.answer_text or "")]
    assert [int(h.get_attribute("data-id")) for h in hits] == mention and chair in mention
    selected = lambda: browser.find_element(By.CSS_SELECTOR, "#tree .row.selected").get_attribute("data-id")  # noqa: E731
    for _ in range(mention.index(chair) + 1):  # Enter goes from match to match
        box.send_keys(Keys.ENTER)
    assert selected() == str(chair)
    _shot(browser, "search")
    box.send_keys(Keys.ESCAPE)
    before = int(selected())
    body.send_keys(Keys.ARROW_UP)
    assert int(selected()) == before - 1  # siblings in ask order
    body.send_keys("d")
    assert selected() == str(r.changed_at)


def test_a_wide_node_shows_its_children_fifty_at_a_time(browser, tmp_path):
    @ida.scripted
    def wide(ws):
        q = ws.question_text
        if q.startswith("item"):
            return q
        for i in range(120):
            yield f"ask item {i}"
        return "done"

    page = write_page(tmp_path / "wide.html", open_runs([ida.run("list 120", wide).save(tmp_path / "w.jsonl")]))
    _open(browser, page)
    rows = lambda: len(browser.find_elements(By.CSS_SELECTOR, "#tree .row"))  # noqa: E731
    assert rows() == 1 + 50
    browser.find_element(By.CSS_SELECTOR, "#tree .more").click()
    assert rows() == 1 + 100
    box = browser.find_element(By.ID, "search")
    box.send_keys("item 117")
    _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#results .hit"))
    box.send_keys(Keys.ENTER)  # revealing a node past the cap draws up to it
    assert browser.find_element(By.CSS_SELECTOR, "#tree .row.selected").get_attribute("data-id") == "118"


def test_a_big_tree_draws_a_few_rows_and_opens_quickly(browser, tmp_path):
    """20,000 nodes: the first screen is the root and its two children, not 20,000 elements
    (benchmarks/view.py measures 10^5)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from engine import range_sum

    tree = ida.run("what is the sum of 0 to 10000?", range_sum, budget=100_000)
    page = write_page(tmp_path / "big.html", [RunInput(tree, "big")])
    _open(browser, page)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#tree .row")) == 3
    assert float(browser.execute_script("return document.body.dataset.ready")) < 5000
    browser.find_element(By.ID, "open-workspace").click()
    assert "> ask what is the sum of 0 to 5000?" in browser.find_element(By.ID, "workspace").text


def test_iterate_curves_are_drawn_in_the_page(browser, tmp_path):
    from ida.view.page import write_curves_page

    page = write_curves_page(tmp_path / "c.html", "curves", [10, 20], {"IDA": [0.2, 0.9], "IDA defers": [0.8, 0.1]},
                             ["round", "IDA"], [["1", "20%"], ["2", "90%"]])
    _open(browser, page)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#curves svg polyline")) == 2
    assert not browser.find_element(By.TAG_NAME, "main").is_displayed()  # no runs: no empty tree pane
    assert "90%" in browser.find_element(By.CSS_SELECTOR, "#curves table").text
    _shot(browser, "curves")
