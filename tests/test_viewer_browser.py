"""The rollout viewer in a real headless browser (Debian's `chromium`, installed by `make test`).

A page is built by `harness view` from real episodes: Connections and search games played by the
engine with the scripted backend, judged by the verify stage, and the doctor stage's child of a
lost game. Chromium loads it (`--dump-dom`, the view chosen by the URL fragment) and the tests read
back what a person would see; a screenshot must be a real picture.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import pytest

from harness.doctor.stage import DoctorConfig, doctor_files
from harness.engine import RolloutConfig, generate
from harness.episode import Episode, Verdict, load_episodes
from harness.episode_files import episode_files
from harness.verify import Verifier, VerifyConfig, verify_files

HOSTILE = (
    "Composers? </script><img src=x onerror=alert(1)><b>not bold</b> naïve — 日本語\n"
    "<guess>[`LISZT`, `HANDEL`, `BRAHMS`, `KING`]</guess>"
)
# The k-th turn of every game gets CONNECTIONS[k]. Puzzle gen-0-00000 (kitchen utensils, rivers,
# composers, chess pieces) is lost: one group found, then four mistakes. On the other boards the
# words are mostly unknown, so those games run out of turns.
CONNECTIONS = [
    "Kitchen things.\n<guess>[`LADLE`, `GRATER`, `SPATULA`, `COLANDER`]</guess>",
    HOSTILE,
    "<guess>[`QUEEN`, `ROOK`, `BISHOP`, `VERDI`]</guess>",
    "<guess>[`YANGTZE`, `AMAZON`, `LISZT`, `KING`]</guess>",
    "<guess>[`THAMES`, `DANUBE`, `BRAHMS`, `ROOK`]</guess>",
    *["I am not sure."] * 5,
]
# The doctor stage cuts the lost game back to its first turn and continues it: turn k of the
# continued conversation gets CONTINUATION[k], so it wins.
CONTINUATION = [
    "(kept from the parent)",
    "<guess>[`YANGTZE`, `AMAZON`, `THAMES`, `DANUBE`]</guess>",
    "<guess>[`LISZT`, `HANDEL`, `BRAHMS`, `VERDI`]</guess>",
    *["I am not sure."] * 7,
]
SEARCH = ["<think>Look it up.</think>\n<search>Grey Candle lighthouse</search>", "<answer>Quillfeather</answer>"]
GAMES = 60  # with 3 search episodes and the doctored ones: two pages of 50


class Solved(Verifier):
    """Passes the episodes whose environment says they were solved."""

    name = "solved"
    version = "1"

    def verify(self, episode: Episode) -> Verdict:
        return self.verdict("pass" if episode.outcome.success else "fail", score=episode.reward or 0.0)


@dataclass
class Site:
    page: Path
    episodes: list[Episode]  # in page order
    parent: Episode
    child: Episode
    profiles: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """Games played by the engine, judged by the verify stage, the lost ones doctored by the
    doctor stage (children judged too), search episodes; the page written by `harness view`."""
    root = tmp_path_factory.mktemp("viewer")
    generate(RolloutConfig(env="connections", backend="scripted", backend_args={"responses": CONNECTIONS},
                           limit=GAMES), root / "connections", progress=False)
    solved = VerifyConfig(verifier="solved")
    verify_files(episode_files([root / "connections"]), root / "verified", solved, verifier=Solved(), progress=False)
    doctor_files([root / "verified"], root / "doctor",
                 DoctorConfig(backend="scripted", backend_args={"responses": CONTINUATION}), progress=False)
    verify_files([root / "doctor" / "doctored.jsonl"], root / "doctored", solved, verifier=Solved(), progress=False)
    generate(RolloutConfig(env="search", backend="scripted", backend_args={"responses": SEARCH}, limit=3),
             root / "search", progress=False)
    result = subprocess.run(
        [sys.executable, "-m", "harness", "view", "verified", "search", "doctored", "-o", "page.html",
         "--title", "Viewer <test>"],
        cwd=root, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    games = list(load_episodes(episode_files([root / "verified"])))
    children = list(load_episodes(episode_files([root / "doctored"])))
    episodes = [*games, *load_episodes(episode_files([root / "search"])), *children]
    child = next(c for c in children if c.task.id == "gen-0-00000")
    parent = next(e for e in games if e.episode_id == child.parent.episode_id)
    return Site(root / "page.html", episodes, parent, child, root / "profiles")


# -- the browser -------------------------------------------------------------------------------


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed: the viewer tests need a real headless browser. "
                    "`make test` installs it (Debian: apt-get install chromium).")
    return path


def run_chromium(site: Site, url: str, *args: str, budget_ms: int) -> subprocess.CompletedProcess:
    site.profiles.mkdir(exist_ok=True)
    profile = tempfile.mkdtemp(dir=site.profiles)  # a fresh browser profile per run
    command = [
        chromium(), "--headless", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={profile}",
        # virtual time runs the page's timers and decompression before the DOM is read
        f"--virtual-time-budget={budget_ms}", *args, url,
    ]
    if os.getuid() == 0:
        command.insert(1, "--no-sandbox")  # Chromium's sandbox refuses to run as root
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def dump(site: Site, **fragment: str) -> Node:
    """The DOM of the page at `#fragment` once the viewer has rendered it (asked again with more
    virtual time until it has, so a slow machine waits longer instead of failing)."""
    url = site.page.as_uri() + ("#" + urlencode(fragment) if fragment else "")
    for budget in (2_000, 8_000, 30_000):
        result = run_chromium(site, url, "--dump-dom", budget_ms=budget)
        dom = parse(result.stdout)
        state = dom.first(lambda n: n.attrs.get("id") == "viewer")
        if state is not None and state.attrs.get("data-state") == "error":
            pytest.fail(f"the viewer failed: {dom.by_id('status').text()}")
        if state is not None and state.attrs.get("data-state") == "ready":
            return dom
    pytest.fail(f"the page never finished rendering {url}; chromium said: {result.stderr[-2000:]}")


# -- reading the DOM back --------------------------------------------------------------------


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag, self.attrs, self.children = tag, attrs, []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def all(self, match) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if match(child):
                    found.append(child)
                found.extend(child.all(match))
        return found

    def first(self, match) -> Node | None:
        found = self.all(match)
        return found[0] if found else None

    def by_id(self, name: str) -> Node:
        node = self.first(lambda n: n.attrs.get("id") == name)
        assert node is not None, f"no element #{name}"
        return node

    def by_class(self, name: str) -> list[Node]:
        return self.all(lambda n: name in (n.attrs.get("class") or "").split())


class _Builder(HTMLParser):
    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def rows(dom: Node) -> list[list[str]]:
    body = dom.by_id("episodes").first(lambda n: n.tag == "tbody")
    return [[td.text() for td in tr.all(lambda n: n.tag == "td")] for tr in body.all(lambda n: n.tag == "tr")]


def listed_ids(dom: Node) -> list[str]:
    return [r[1] for r in rows(dom)]


def pane_text(dom: Node) -> str:
    return dom.by_id("episode").text()


# -- what a person sees ----------------------------------------------------------------------


def test_first_page_lists_fifty_episodes(site: Site) -> None:
    dom = dump(site)
    total = len(site.episodes)
    assert dom.first(lambda n: n.tag == "h1").text() == "Viewer <test>"
    assert dom.by_id("episode-count").text() == f"{total} episodes"
    assert dom.by_id("status").text() == f"Episodes 1–50 of {total}"
    listed = rows(dom)
    assert len(listed) == 50
    assert listed_ids(dom) == [e.episode_id for e in site.episodes[:50]]
    first = site.episodes[0]
    assert listed[0][:3] == ["1", first.episode_id, "connections"] and listed[0][3].startswith(str(first.task.id))
    assert f"solved: {'pass' if first.outcome.success else 'fail'}" in listed[0][7]
    options = [o.text() for o in dom.first(lambda n: n.attrs.get("name") == "env").all(lambda n: n.tag == "option")]
    games = sum(e.env.name == "connections" for e in site.episodes)
    assert options == ["any", f"connections ({games})", "search (3)"]
    assert dom.first(lambda n: n.attrs.get("name") == "v.solved") is not None
    assert "page 1 of 2" in dom.by_id("pager").text()


def test_second_page(site: Site) -> None:
    dom = dump(site, page="2")
    total = len(site.episodes)
    assert dom.by_id("status").text() == f"Episodes 51–{total} of {total}"
    assert [r[0] for r in rows(dom)] == [str(i) for i in range(51, total + 1)]
    assert listed_ids(dom) == [e.episode_id for e in site.episodes[50:]]
    assert "page 2 of 2" in dom.by_id("pager").text()


@pytest.mark.parametrize(
    "fragment, keep",
    [
        ({"env": "search"}, lambda e: e.env.name == "search"),
        ({"v.solved": "pass"}, lambda e: e.verdict("solved") is not None and e.verdict("solved").verdict == "pass"),
        ({"v.solved": "none"}, lambda e: e.verdict("solved") is None),
        ({"doctored": "yes"}, lambda e: e.parent is not None),
        ({"rmin": "0.5"}, lambda e: e.reward is not None and e.reward >= 0.5),
        ({"env": "connections", "reason": "max_turns_reached", "doctored": "no"},
         lambda e: e.env.name == "connections" and e.outcome.reason == "max_turns_reached" and e.parent is None),
    ],
    ids=["env", "verdict-pass", "no-verdict", "doctored", "reward-min", "combined"],
)
def test_filters_narrow_the_list(site: Site, fragment: dict[str, str], keep) -> None:
    expected = [e.episode_id for e in site.episodes if keep(e)]
    assert 0 < len(expected) < len(site.episodes)  # the filter has something to keep and to drop
    dom = dump(site, per="100", **fragment)
    assert listed_ids(dom) == expected
    assert dom.by_id("status").text() == (f"Episodes 1–{len(expected)} of {len(expected)} "
                                          f"(filtered from {len(site.episodes)})")


def test_a_filter_that_keeps_nothing_says_so(site: Site) -> None:
    dom = dump(site, env="search", doctored="yes")
    assert rows(dom) == []
    assert dom.by_id("status").text() == f"No episode matches these filters (0 of {len(site.episodes)})."


def test_doctored_episode_shows_its_conversation_and_parent(site: Site) -> None:
    child, parent_id = site.child, site.parent.episode_id
    dom = dump(site, ep=child.episode_id)
    position = site.episodes.index(child) + 1
    assert position > 50 and dom.by_id("status").text().startswith("Episodes 51–")  # the page that lists it
    selected = dom.by_id("episodes").all(lambda n: n.tag == "tr" and n.attrs.get("class") == "selected")
    assert [tr.all(lambda n: n.tag == "td")[1].text() for tr in selected] == [child.episode_id]
    text = pane_text(dom)
    assert (f"Doctored from {parent_id}: kept {child.parent.steps_kept} step(s) of it; "
            f"reason: {child.parent.reason}") in text
    link = dom.by_id("episode").first(lambda n: n.tag == "a" and n.text() == parent_id)
    assert link is not None and f"ep={parent_id}" in link.attrs["href"]
    messages = [(m.by_class("msg-role")[0].text(), m.by_class("msg-text")[0].text()) for m in dom.by_class("msg")]
    prompt = [(f"{m.role} · prompt", m.content) for m in child.prompt]
    assert messages[: len(prompt)] == prompt
    assert ("assistant · prompt", CONNECTIONS[0]) in prompt  # the parent's kept turn leads the prompt
    assert [content for role, content in messages if role == "assistant"] == [s.action for s in child.steps]
    guesses = dom.by_class("guesses")[0].first(lambda n: n.tag == "tbody").all(lambda n: n.tag == "tr")
    cells = [[td.text() for td in tr.all(lambda n: n.tag == "td")] for tr in guesses]
    assert [c[1:5] for c in cells] == [
        ["kept from parent", "LADLE, GRATER, SPATULA, COLANDER", "correct", "KITCHEN UTENSILS"],
        ["step 1", "YANGTZE, AMAZON, THAMES, DANUBE", "correct", "RIVERS"],
        ["step 2", "LISZT, HANDEL, BRAHMS, VERDI", "correct", "COMPOSERS"],
        ["auto (step 2)", "QUEEN, KING, ROOK, BISHOP", "auto", "CHESS PIECES"],
    ]
    verdicts = dom.by_class("verdicts")[0].first(lambda n: n.tag == "tbody").all(lambda n: n.tag == "td")
    assert [td.text() for td in verdicts][:3] == ["solved", "1", "pass"]  # the child was judged too
    heads = [h.text() for h in dom.by_class("step-head")]
    assert len(heads) == len(child.steps) and all("valid" in h and "invalid" not in h for h in heads)


def test_parent_shows_its_verdicts_steps_and_child(site: Site) -> None:
    parent, child = site.parent, site.child
    dom = dump(site, ep=parent.episode_id, q=parent.episode_id)
    text = pane_text(dom)
    assert f"Doctored into: {child.episode_id}" in text
    verdicts = dom.by_class("verdicts")[0]
    assert [td.text() for td in verdicts.first(lambda n: n.tag == "tbody").all(lambda n: n.tag == "td")][:3] == \
        ["solved", "1", "fail"]
    heads = [h.text() for h in dom.by_class("step-head")]
    assert len(heads) == len(parent.steps) == 5
    for head, step in zip(heads, parent.steps):
        assert ("invalid" in head) == (not step.status.valid)
        assert step.status.label in head or step.status.label == "invalid"
    messages = [m.by_class("msg-text")[0].text() for m in dom.by_class("msg")]
    assert HOSTILE in messages  # model text is shown as text ...
    assert dom.first(lambda n: n.tag == "img") is None  # ... never as markup
    assert dom.all(lambda n: n.tag == "b") == []
    guess_rows = dom.by_class("guesses")[0].first(lambda n: n.tag == "tbody").all(lambda n: n.tag == "tr")
    assert [tr.all(lambda n: n.tag == "td")[3].text() for tr in guess_rows] == \
        ["correct", "one_away", "one_away", "incorrect", "incorrect"]
    assert "max_mistakes" in text
    assert listed_ids(dom) == [parent.episode_id, child.episode_id]  # q also finds the children
    assert [r[8] for r in rows(dom)] == ["→ 1 doctored", f"from {parent.episode_id}"]


def test_search_episode(site: Site) -> None:
    episode = next(e for e in site.episodes if e.env.name == "search")
    dom = dump(site, ep=episode.episode_id)
    messages = [m.by_class("msg-text")[0].text() for m in dom.by_class("msg")]
    assert SEARCH[0] in messages and SEARCH[1] in messages
    assert any(m.startswith("<information>") for m in messages)
    assert "search" in [b.text() for b in dom.by_id("episode").by_class("badge")]
    assert dom.by_class("guesses") == []


def test_controls_change_the_view(site: Site) -> None:
    """A person picks an environment and clicks a row: the page (in a frame, driven by a script
    as a person's clicks would) updates the list, the URL and the open episode."""
    driver = site.page.with_name("driver.html")
    driver.write_text("""<!doctype html><body><iframe id="f" src="page.html" style="width:1400px;height:900px"></iframe>
<pre id="out"></pre><script>
const frame = document.getElementById("f");
const until = (test, then) => { const t = setInterval(() => { if (test()) { clearInterval(t); then(); } }, 25); };
frame.addEventListener("load", () => {
  const d = frame.contentDocument, w = frame.contentWindow;
  const ready = () => d.getElementById("viewer").dataset.state === "ready";
  until(ready, () => {
    const env = d.querySelector("select[name=env]");
    env.value = "search";
    env.dispatchEvent(new Event("change", {bubbles: true}));
    until(() => ready() && d.getElementById("status").textContent.includes("filtered"), () => {
      const status = d.getElementById("status").textContent, hash = w.location.hash;
      d.querySelector("#episodes tbody tr td:nth-child(3)").click();
      until(() => ready() && d.querySelector("#episode h2"), () => {
        document.getElementById("out").textContent = JSON.stringify({status, hash, after: w.location.hash,
          title: d.querySelector("#episode h2").textContent});
        document.body.dataset.done = "1";
      });
    });
  });
});
</script></body>""")
    for budget in (4_000, 15_000, 40_000):
        result = run_chromium(site, driver.as_uri(), "--allow-file-access-from-files", "--dump-dom", budget_ms=budget)
        out = parse(result.stdout).by_id("out").text()
        if out:
            break
    else:
        pytest.fail(f"the driver never finished; chromium said: {result.stderr[-2000:]}")
    seen = json.loads(out)
    first_search = next(e for e in site.episodes if e.env.name == "search")
    assert seen["status"] == f"Episodes 1–3 of 3 (filtered from {len(site.episodes)})"
    assert seen["hash"] == "#env=search"
    assert seen["after"] == f"#env=search&ep={first_search.episode_id}"
    assert seen["title"] == f"Episode {first_search.episode_id}"


def test_screenshot_is_a_readable_picture(site: Site) -> None:
    import numpy as np
    from PIL import Image

    shot = site.page.with_name("doctored.png")
    url = site.page.as_uri() + "#" + urlencode({"ep": site.child.episode_id})
    result = run_chromium(site, url, "--window-size=1400,1000", f"--screenshot={shot}", budget_ms=8_000)
    assert shot.exists(), result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1400, 1000)  # IHDR: width, height
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int32)
    inked = float((pixels.sum(axis=2) < 600).mean())  # not white or near-white
    assert 0.02 < inked < 0.6, f"{inked:.1%} of the screenshot is ink"
    colours = np.unique(pixels[::4, ::4].reshape(-1, 3), axis=0)
    assert len(colours) > 100  # text, badges, colours: not a flat fill


def test_an_episode_given_twice_opens_either_copy(site: Site) -> None:
    """The same file given twice: both copies are listed, and `copy=` opens the second."""
    twice = site.page.with_name("twice.html")
    search = site.page.parent / "search"
    result = subprocess.run([sys.executable, "-m", "harness", "view", str(search), str(search), "-o", str(twice)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    episode = next(e for e in site.episodes if e.env.name == "search")  # the first of its file
    dom = dump(Site(twice, site.episodes, site.parent, site.child, site.profiles), ep=episode.episode_id, copy="2")
    assert listed_ids(dom).count(episode.episode_id) == 2
    assert "(copy 2 of 2)" in pane_text(dom)
    searches = [e for e in site.episodes if e.env.name == "search"]
    selected = dom.by_id("episodes").all(lambda n: n.tag == "tr" and n.attrs.get("class") == "selected")
    assert [tr.all(lambda n: n.tag == "td")[0].text() for tr in selected] == [str(len(searches) + 1)]
