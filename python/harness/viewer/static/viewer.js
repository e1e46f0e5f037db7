// The rollout viewer's script. It decodes the page's episode index, filters and pages the list,
// and shows one episode at a time, decoding that episode's chunk only when it is opened.
// Everything it shows is driven by the URL fragment (#env=search&page=2&ep=ep-…), so a link,
// the back button or a headless browser reproduces a view. Episode text (model output is
// hostile) only ever enters the DOM as text nodes, never as HTML.
"use strict";
(() => {
  const CHUNK_SIZE = Number(document.body.dataset.chunkSize);
  const PER_PAGE = [25, 50, 100, 200];
  const VERDICTS = ["pass", "fail", "no_verdict", "none"];
  const NO_REASON = "(none)";

  const viewer = document.getElementById("viewer");
  const form = document.getElementById("filters");
  const status = document.getElementById("status");
  const tbody = document.querySelector("#episodes tbody");
  const pager = document.getElementById("pager");
  const pane = document.getElementById("episode");

  let episodes = []; // index entries, in page order
  const positions = new Map(); // episode id -> the positions holding it (an id may repeat)
  const children = new Map(); // parent episode id -> positions of its doctored episodes
  const chunks = new Map(); // chunk number -> promise of its full records
  let verifiers = [];
  let detailRun = 0; // the latest detail render; an older one that finishes late is dropped

  // -- the data: gzip-compressed JSON in base64, inside inert script elements (type application/octet-stream) -------------

  async function decode(id) {
    const binary = atob(document.getElementById(id).textContent.trim());
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }

  function chunk(n) {
    if (!chunks.has(n)) chunks.set(n, decode("chunk-" + n));
    return chunks.get(n);
  }

  // -- the state, kept in the URL fragment ---------------------------------------------------

  function whole(text, fallback, min, max) {
    const n = Number.parseInt(text, 10);
    return Number.isFinite(n) ? Math.min(Math.max(n, min), max) : fallback;
  }

  function readState() {
    const p = new URLSearchParams(location.hash.slice(1));
    const state = {
      env: p.get("env") || "",
      reason: p.get("reason") || "",
      rmin: p.get("rmin") || "",
      rmax: p.get("rmax") || "",
      doctored: p.get("doctored") || "",
      q: p.get("q") || "",
      verdicts: {},
      // no page given: the one holding the open episode (so a link to an episode shows it listed)
      page: p.has("page") ? whole(p.get("page"), 1, 1, Number.MAX_SAFE_INTEGER) : null,
      per: whole(p.get("per"), 50, 1, 1000),
      ep: p.get("ep") || "",
      copy: whole(p.get("copy"), 1, 1, Number.MAX_SAFE_INTEGER),
    };
    for (const [key, value] of p) if (key.startsWith("v.") && value) state.verdicts[key.slice(2)] = value;
    return state;
  }

  function hashOf(state) {
    const p = new URLSearchParams();
    for (const key of ["env", "reason", "rmin", "rmax", "doctored", "q"]) if (state[key]) p.set(key, state[key]);
    for (const [name, value] of Object.entries(state.verdicts)) if (value) p.set("v." + name, value);
    if (state.page !== null && (state.page > 1 || state.ep)) p.set("page", state.page);
    if (state.per !== 50) p.set("per", state.per);
    if (state.ep) p.set("ep", state.ep);
    if (state.ep && state.copy > 1) p.set("copy", state.copy);
    return "#" + p.toString();
  }

  function linkTo(state, changes) {
    return hashOf({ ...state, ...changes });
  }

  // -- small DOM helpers: text in, text out --------------------------------------------------

  function el(tag, props, ...kids) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid === null || kid === undefined || kid === false) continue;
      node.append(kid instanceof Node ? kid : String(kid));
    }
    return node;
  }

  function number(x) {
    if (x == null) return "—";
    return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(4)));
  }

  function badge(text, kind) {
    return el("span", { class: "badge " + kind, text });
  }

  const VERDICT_KIND = { pass: "ok", fail: "bad", no_verdict: "warn" };
  const GUESS_KIND = { correct: "ok", auto: "ok", one_away: "warn", incorrect: "bad", invalid: "bad" };

  function json(value) {
    return el("pre", { class: "json", text: JSON.stringify(value, null, 2) });
  }

  function fold(summary, value) {
    if (value == null) return null;
    if (typeof value === "object" && Object.keys(value).length === 0) return null;
    return el("details", { class: "fold" }, el("summary", { text: summary }), json(value));
  }

  // -- filters --------------------------------------------------------------------------------

  function counts(key) {
    const out = new Map();
    for (const e of episodes) out.set(key(e), (out.get(key(e)) || 0) + 1);
    return [...out].sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  }

  function select(name, label, choices) {
    const box = el("select", { name, "aria-label": label });
    for (const [value, text] of choices) box.append(el("option", { value, text }));
    return el("label", {}, label + " ", box);
  }

  function buildFilters() {
    const envs = counts((e) => e.env).map(([v, n]) => [v, `${v} (${n})`]);
    const reasons = counts((e) => e.reason ?? NO_REASON).map(([v, n]) => [v, `${v} (${n})`]);
    const rewardBox = (name, placeholder) =>
      el("input", { type: "number", step: "any", name, placeholder, "aria-label": "reward " + placeholder, class: "reward" });
    form.append(
      select("env", "environment", [["", "any"], ...envs]),
      select("reason", "outcome", [["", "any"], ...reasons]),
      el("label", {}, "reward ", rewardBox("rmin", "min"), " to ", rewardBox("rmax", "max")),
      select("doctored", "doctored", [["", "any"], ["yes", "doctored"], ["no", "not doctored"]]),
      ...verifiers.map((name) => select("v." + name, "verdict " + name, [["", "any"], ...VERDICTS.map((v) => [v, v])])),
      el("label", {}, "search ", el("input", { type: "search", name: "q", placeholder: "episode, task, model, file", class: "search" })),
      select("per", "per page", PER_PAGE.map((n) => [String(n), String(n)])),
      el("a", { href: "#", class: "clear", text: "clear filters" }),
    );
    form.addEventListener("change", () => {
      const old = readState();
      const state = { ...old, verdicts: {}, page: null }; // the page holding the open episode, or the first
      for (const field of form.elements) {
        if (!field.name) continue;
        if (field.name.startsWith("v.")) state.verdicts[field.name.slice(2)] = field.value;
        else if (field.name === "per") state.per = Number(field.value);
        else state[field.name] = field.value.trim();
      }
      location.hash = hashOf(state);
    });
    form.addEventListener("submit", (event) => event.preventDefault());
  }

  function syncFilters(state) {
    for (const field of form.elements) {
      if (!field.name) continue;
      let value;
      if (field.name.startsWith("v.")) value = state.verdicts[field.name.slice(2)] || "";
      else if (field.name === "per") value = String(state.per);
      else value = state[field.name];
      if (field.tagName === "SELECT" && ![...field.options].some((o) => o.value === value)) {
        field.append(el("option", { value, text: value })); // a value from the URL that no episode has
      }
      field.value = value;
    }
  }

  function rewardBound(text) {
    if (text === "") return null;
    const n = Number(text);
    return Number.isFinite(n) ? n : null;
  }

  function matches(e, state) {
    if (state.env && e.env !== state.env) return false;
    if (state.reason && (e.reason ?? NO_REASON) !== state.reason) return false;
    const low = rewardBound(state.rmin);
    const high = rewardBound(state.rmax);
    if ((low !== null || high !== null) && e.reward == null) return false;
    if (low !== null && e.reward < low) return false;
    if (high !== null && e.reward > high) return false;
    if (state.doctored === "yes" && !e.parent) return false;
    if (state.doctored === "no" && e.parent) return false;
    for (const [name, wanted] of Object.entries(state.verdicts)) {
      const got = e.verdicts[name];
      if ((got ? got[0] : "none") !== wanted) return false;
    }
    if (state.q) {
      const q = state.q.toLowerCase();
      const fields = [e.id, String(e.task), e.model, e.source, e.parent ? e.parent.id : ""];
      if (!fields.some((f) => f.toLowerCase().includes(q))) return false;
    }
    return true;
  }

  // -- the list -------------------------------------------------------------------------------

  function episodeLink(state, pos, text) {
    const e = episodes[pos];
    const copies = positions.get(e.id);
    const copy = copies.length > 1 ? copies.indexOf(pos) + 1 : 1;
    return el("a", { href: linkTo(state, { ep: e.id, copy, page: null }), text: text ?? e.id });
  }

  function parentLink(state, parentId) {
    const found = positions.get(parentId);
    if (!found) return el("span", { class: "missing", title: "not in this page", text: parentId });
    return episodeLink(state, found[0], parentId);
  }

  function listRow(state, pos, selected) {
    const e = episodes[pos];
    const outcome = e.success === true ? badge("solved", "ok") : e.success === false ? badge("failed", "bad") : badge("unknown", "neutral");
    const verdicts = Object.entries(e.verdicts).map(([name, [verdict]]) => badge(`${name}: ${verdict}`, VERDICT_KIND[verdict] || "neutral"));
    const kids = children.get(e.id) || [];
    const doctored = [
      e.parent ? el("span", {}, "from ", parentLink(state, e.parent.id)) : null,
      kids.length ? el("span", { class: "kids" }, `→ ${kids.length} doctored`) : null,
    ];
    const row = el(
      "tr",
      { class: selected ? "selected" : null, "data-position": pos },
      el("td", { class: "num", text: pos + 1 }),
      el("td", { class: "id", title: e.id }, episodeLink(state, pos)),
      el("td", { text: e.env }),
      el("td", { class: "task", title: String(e.task) }, String(e.task), e.split ? el("div", { class: "dim", text: e.split }) : null),
      el("td", { class: "num", text: number(e.reward) }),
      el("td", {}, outcome, " ", e.reason ?? NO_REASON, e.error ? el("span", { class: "bad-text", text: " " + e.error }) : null),
      el("td", { class: e.invalid ? "num warn-text" : "num", text: `${e.steps - e.invalid}/${e.steps}` }),
      el("td", {}, verdicts),
      el("td", { class: "doc", title: e.parent ? "doctored from " + e.parent.id : null }, doctored),
    );
    row.addEventListener("click", (event) => {
      if (event.target.closest("a")) return;
      location.hash = episodeLink(state, pos).getAttribute("href");
    });
    return row;
  }

  function renderList(state, hits, selectedPos) {
    const pages = Math.max(1, Math.ceil(hits.length / state.per));
    const at = hits.indexOf(selectedPos);
    const page = Math.min(state.page ?? (at >= 0 ? Math.floor(at / state.per) + 1 : 1), pages);
    const start = (page - 1) * state.per;
    const shown = hits.slice(start, start + state.per);
    const filtered = hits.length < episodes.length ? ` (filtered from ${episodes.length})` : "";
    status.textContent = hits.length
      ? `Episodes ${start + 1}–${start + shown.length} of ${hits.length}${filtered}`
      : `No episode matches these filters (0 of ${episodes.length}).`;
    tbody.replaceChildren(...shown.map((pos) => listRow(state, pos, pos === selectedPos)));
    pager.replaceChildren(
      page > 1 ? el("a", { href: linkTo(state, { page: page - 1 }), rel: "prev", text: "‹ previous" }) : el("span", { class: "dim", text: "‹ previous" }),
      el("span", { class: "page-of", text: ` page ${page} of ${pages} ` }),
      page < pages ? el("a", { href: linkTo(state, { page: page + 1 }), rel: "next", text: "next ›" }) : el("span", { class: "dim", text: "next ›" }),
    );
  }

  // -- one episode ----------------------------------------------------------------------------

  function message(role, content, note) {
    return el(
      "div",
      { class: "msg role-" + role },
      el("div", { class: "msg-role" }, role, note ? el("span", { class: "dim", text: " · " + note }) : null),
      el("pre", { class: "msg-text", text: content }),
    );
  }

  function facts(pairs) {
    const list = el("dl", { class: "facts" });
    for (const [name, value] of pairs) {
      if (value === null || value === undefined || value === "") continue;
      list.append(el("dt", { text: name }), el("dd", {}, value));
    }
    return list;
  }

  function doctoring(state, r) {
    const out = [];
    if (r.parent) {
      out.push(el("p", { class: "doctored-from" }, "Doctored from ", parentLink(state, r.parent.episode_id),
        `: kept ${r.parent.steps_kept} step(s) of it; reason: ${r.parent.reason}`,
        positions.has(r.parent.episode_id) ? null : el("span", { class: "dim", text: " (the parent is not in this page)" })));
    }
    const kids = children.get(r.episode_id) || [];
    if (kids.length) {
      out.push(el("p", { class: "doctored-into" }, "Doctored into: ",
        kids.map((pos, i) => [i ? ", " : "", episodeLink(state, pos),
          el("span", { class: "dim", text: ` (kept ${episodes[pos].parent.steps_kept}, ${episodes[pos].parent.reason})` })])));
    }
    return out.length ? el("div", { class: "box doctoring" }, out) : null;
  }

  function verdictTable(verdicts) {
    if (!verdicts || !verdicts.length) return el("p", { class: "dim", text: "No verdicts." });
    return el("table", { class: "grid verdicts" },
      el("thead", {}, el("tr", {}, ["verifier", "version", "verdict", "score", "details"].map((h) => el("th", { text: h })))),
      el("tbody", {}, verdicts.map((v) => el("tr", {},
        el("td", { text: v.verifier }), el("td", { text: v.version ?? "" }),
        el("td", {}, badge(v.verdict, VERDICT_KIND[v.verdict] || "neutral")),
        el("td", { class: "num", text: number(v.score) }),
        el("td", {}, fold("details", v.details))))));
  }

  function guessTable(guesses) {
    return el("table", { class: "grid guesses" },
      el("thead", {}, el("tr", {}, ["#", "turn", "words", "result", "group", "message"].map((h) => el("th", { text: h })))),
      el("tbody", {}, guesses.map((g, i) => el("tr", { class: "origin-" + g.origin },
        el("td", { class: "num", text: i + 1 }),
        el("td", { class: "turn", text: g.origin === "kept" ? "kept from parent" : g.origin === "auto" ? `auto (step ${g.turn ?? "?"})` : `step ${g.turn ?? "?"}` }),
        el("td", { class: "words", text: g.items.join(", ") }),
        el("td", {}, badge(g.status ?? "?", GUESS_KIND[g.status] || "neutral")),
        el("td", { class: g.group_index != null ? "group group-" + (g.group_index % 4) : "", text: g.group ?? "" }),
        el("td", { class: "dim", text: g.message ?? "" })))));
  }

  function stepView(step, k) {
    const s = step.status || {};
    const head = el("div", { class: "step-head" },
      el("strong", { text: `Step ${k}` }), " ",
      s.valid === false ? badge("invalid", "bad") : badge("valid", "ok"), " ",
      s.label && s.label !== (s.valid === false ? "invalid" : "valid") ? badge(s.label, "neutral") : null,
      s.reason ? el("span", { class: "reason", text: " " + s.reason }) : null,
      step.reward != null ? el("span", { text: ` · reward ${number(step.reward)}` }) : null,
      step.done ? el("span", { text: " · done" }) : null,
      step.usage && step.usage.completion_tokens != null ? el("span", { class: "dim", text: ` · ${step.usage.completion_tokens} tokens` }) : null);
    return el("div", { class: "step" + (s.valid === false ? " invalid" : "") }, head,
      message("assistant", step.action),
      (step.observation || []).map((m) => message(m.role, m.content, "observation")),
      fold("step info", step.info), fold("token counts", step.token_counts));
  }

  function neighbours(state, pos) {
    const hits = [];
    episodes.forEach((e, i) => { if (matches(e, state)) hits.push(i); });
    const at = hits.indexOf(pos);
    const prev = at > 0 ? hits[at - 1] : null;
    const next = at >= 0 && at < hits.length - 1 ? hits[at + 1] : null;
    return el("nav", { class: "neighbours" },
      prev !== null ? episodeLink(state, prev, "‹ previous episode") : el("span", { class: "dim", text: "‹ previous episode" }), " · ",
      next !== null ? episodeLink(state, next, "next episode ›") : el("span", { class: "dim", text: "next episode ›" }));
  }

  function episodeView(state, r, pos) {
    const copies = positions.get(r.episode_id);
    const out = r.outcome || {};
    const success = out.success === true ? badge("solved", "ok") : out.success === false ? badge("failed", "bad") : badge("unknown", "neutral");
    const kept = r.parent ? r.parent.steps_kept : 0;
    return [
      neighbours(state, pos),
      el("h2", {}, "Episode ", el("span", { class: "id", text: r.episode_id }),
        copies.length > 1 ? el("span", { class: "dim", text: ` (copy ${copies.indexOf(pos) + 1} of ${copies.length})` }) : null),
      facts([
        ["environment", `${r.env.name} ${r.env.version}`],
        ["task", `${r.task.id}${r.task.split ? " (" + r.task.split + ")" : ""}`],
        ["model", `${r.model.name} via ${r.model.backend}`],
        ["sample", `${r.sample_index}${r.seed != null ? " · seed " + r.seed : ""}`],
        ["reward", number(r.reward)],
        ["outcome", [success, " ", out.reason ?? NO_REASON, out.done ? "" : " (not done)"]],
        ["tokens", r.usage && (r.usage.prompt_tokens != null || r.usage.completion_tokens != null)
          ? `${r.usage.prompt_tokens ?? "?"} prompt · ${r.usage.completion_tokens ?? "?"} completion` : null],
        ["source", r.source],
      ]),
      doctoring(state, r),
      r.error ? el("div", { class: "box error" }, el("strong", { text: r.error.type + ": " }), r.error.message, fold("traceback", r.error.traceback)) : null,
      el("h3", { text: "Verdicts" }), verdictTable(r.verification),
      r.guesses ? [el("h3", { text: "Guesses" }), guessTable(r.guesses)] : null,
      el("h3", { text: "Conversation" }),
      el("div", { class: "prompt" },
        el("div", { class: "part-head" }, el("strong", { text: "Prompt" }),
          kept ? el("span", { class: "dim", text: ` · holds the ${kept} step(s) kept from the parent` }) : null),
        r.prompt.map((m) => message(m.role, m.content, "prompt"))),
      r.steps.length ? r.steps.map((step, i) => stepView(step, i + 1)) : el("p", { class: "dim", text: "No steps." }),
      el("h3", { text: "More" }),
      fold("reward components", r.reward_components), fold("task data", r.task.data), fold("environment arguments", r.env.args),
      fold("sampling", r.sampling), fold("episode info", r.info), fold("provenance", r.provenance),
    ];
  }

  async function renderDetail(state) {
    const run = ++detailRun;
    if (!state.ep) {
      pane.replaceChildren(el("p", { class: "hint", text: "Choose an episode in the list." }));
      return;
    }
    const found = positions.get(state.ep);
    if (!found) {
      pane.replaceChildren(el("p", { class: "status", text: `No episode ${state.ep} in this page.` }));
      return;
    }
    const pos = found[Math.min(state.copy, found.length) - 1];
    pane.replaceChildren(el("p", { class: "status", text: "Loading the episode…" }));
    const records = await chunk(Math.floor(pos / CHUNK_SIZE));
    if (run !== detailRun) return;
    pane.replaceChildren(...episodeView(state, records[pos % CHUNK_SIZE], pos).flat(Infinity).filter(Boolean));
    pane.scrollTop = 0;
  }

  // -- putting it together --------------------------------------------------------------------

  async function render() {
    viewer.dataset.state = "loading";
    const state = readState();
    syncFilters(state);
    const hits = [];
    episodes.forEach((e, i) => { if (matches(e, state)) hits.push(i); });
    const selected = positions.get(state.ep);
    renderList(state, hits, selected ? selected[Math.min(state.copy, selected.length) - 1] : null);
    try {
      await renderDetail(state);
      viewer.dataset.state = "ready";
    } catch (err) {
      fail(err);
    }
  }

  function fail(err) {
    viewer.dataset.state = "error";
    const why = typeof DecompressionStream === "undefined"
      ? "this browser cannot decompress the page's data (it needs DecompressionStream: Chrome 80, Firefox 113, Safari 16.4 or later)"
      : String(err);
    status.textContent = "The episodes could not be shown: " + why;
  }

  async function start() {
    try {
      episodes = await decode("index");
    } catch (err) {
      fail(err);
      return;
    }
    const names = new Set();
    episodes.forEach((e, i) => {
      if (!positions.has(e.id)) positions.set(e.id, []);
      positions.get(e.id).push(i);
      if (e.parent) {
        if (!children.has(e.parent.id)) children.set(e.parent.id, []);
        children.get(e.parent.id).push(i);
      }
      for (const name of Object.keys(e.verdicts)) names.add(name);
    });
    verifiers = [...names].sort();
    buildFilters();
    window.addEventListener("hashchange", render);
    await render();
  }

  start();
})();
