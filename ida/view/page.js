// ida view: draws the tree lazily from the embedded JSON (shape: ida/view/payload.py).
// Only expanded children are in the DOM, at most CAP at a time per node ("show more" adds
// the next CAP), so a 10^5-node tree costs a few dozen elements to open. Text from data is
// always set with textContent, never as markup.
"use strict";
(function () {
  const CAP = 50, HITS = 100;
  const DATA = JSON.parse(document.getElementById("ida-data").textContent);
  let DETAILS = null;  // the second blob, parsed the first time a workspace is opened
  const details = () => DETAILS || (DETAILS = JSON.parse(document.getElementById("ida-details").textContent));
  const $ = (id) => document.getElementById(id);
  let cur = 0, selected = null, hits = [], hitAt = -1;
  const parentsCache = {}, lowerCache = {};

  function el(tag, cls, ...kids) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    for (const k of kids) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
    return e;
  }
  function put(parent, ...kids) {  // append, skipping the nulls of optional parts
    for (const k of kids) if (k !== null && k !== undefined) parent.append(k);
  }
  const run = () => DATA.runs[cur];
  const short = (s, n) => (s.length > n ? s.slice(0, n) + "…" : s);
  const reportOf = (i) => DATA.reports.find((r) => r.run === i) || null;
  function diffOf(i) {  // the diff with the run before, else with the run after
    const d = DATA.diffs.find((x) => x.b === i) || DATA.diffs.find((x) => x.a === i);
    if (!d) return null;
    const side = d.b === i ? "b" : "a";
    return { d, marks: d["marks_" + side], first: d["first_" + side], other: d[side === "b" ? "a" : "b"] };
  }
  function visitsOf(i) {
    const r = reportOf(i);
    if (!r) return null;
    if (!r._byNode) {
      r._byNode = {};
      for (const v of r.visits) r._byNode[v.node] = v;
      r._unexplained = new Set(r.unexplained);
      r._conflicts = {};
      for (const c of r.conflicts) r._conflicts[c.node] = c;
    }
    return r;
  }
  function firstParents(i) {  // a parent of each node (the first to ask it), for revealing a node
    if (parentsCache[i]) return parentsCache[i];
    const R = DATA.runs[i], p = new Int32Array(R.q.length).fill(-1);
    R.kids.forEach((ks, n) => { for (const c of ks) if (p[c] < 0 && c !== R.root) p[c] = n; });
    return (parentsCache[i] = p);
  }

  // ---- the tree ------------------------------------------------------------------------
  function badges(row, n) {
    const R = run(), [pname, kind] = R.policies[R.pol[n]];
    row.append(el("span", "badge " + kind, kind), el("span", "badge cost", R.cost[n] + " act"));
    if (R.np[n] > 1) row.append(el("span", "badge shared", "shared ×" + R.np[n]));
    if (R.fail[n]) { row.classList.add("failed"); row.append(el("span", "badge fail", "✗ " + short(R.fail[n], 40))); }
    row.title = pname;
    const rep = visitsOf(cur);
    if (rep) {
      const v = rep._byNode[n];
      if (v && v.blamed) { row.classList.add("blamed"); row.append(el("span", "badge blamed", "blamed")); }
      else if (v) row.append(el("span", "badge visited", "target " + short(v.target, 30)));
      if (rep._unexplained.has(n)) row.append(el("span", "badge unexplained", "unexplained"));
      if (rep._conflicts[n]) row.append(el("span", "badge conflict", "conflict"));
    }
    const df = diffOf(cur);
    if (df) {
      if (df.first === n) { row.classList.add("parted"); row.append(el("span", "badge parted", "runs part here")); }
      else if (df.marks[n]) row.append(el("span", "badge " + df.marks[n], df.marks[n]));
    }
  }
  function nodeEl(n) {
    const R = run(), box = el("div", "node"), row = el("div", "row");
    box.dataset.id = row.dataset.id = n;
    const tog = el("span", "tog", R.kids[n].length ? "▸" : "·");
    const ans = R.a[n] === null ? el("span", "muted", "  (unanswered)") : el("span", "ans", "  → " + short(R.a[n], 120));
    row.append(tog, el("span", "nid", "#" + n + " "), el("span", "q", short(R.q[n], 300)), ans);
    badges(row, n);
    box.append(row, el("div", "kids"));
    return box;
  }
  const isOpen = (box) => box.classList.contains("open");
  function showKids(box, upto) {
    const n = +box.dataset.id, ks = run().kids[n], kids = box.lastChild;
    let shown = kids.querySelectorAll(":scope > .node").length;
    const more = kids.querySelector(":scope > .more");
    if (more) more.remove();
    const end = Math.min(ks.length, Math.max(upto || 0, shown + CAP));
    const frag = document.createDocumentFragment();
    for (; shown < end; shown++) frag.append(nodeEl(ks[shown]));
    kids.append(frag);
    if (shown < ks.length) {
      const b = el("button", "more", `show ${Math.min(CAP, ks.length - shown)} more (${ks.length - shown} hidden)`);
      b.onclick = (e) => { e.stopPropagation(); showKids(box); };
      kids.append(b);
    }
  }
  function expand(box, upto) {
    if (!run().kids[+box.dataset.id].length) return;
    if (!isOpen(box)) { box.classList.add("open"); box.firstChild.firstChild.textContent = "▾"; }
    showKids(box, upto);
  }
  function collapse(box) {
    if (!isOpen(box)) return;
    box.classList.remove("open");
    box.firstChild.firstChild.textContent = "▸";
    box.lastChild.replaceChildren();  // gone from the DOM, drawn again on the next expand
    if (selected && !selected.isConnected) select(box.firstChild);
  }
  function select(row, scroll) {
    if (selected) selected.classList.remove("selected");
    selected = row;
    row.classList.add("selected");
    if (scroll) row.scrollIntoView({ block: "nearest" });
    showNode(+row.dataset.id);
  }
  function reveal(n, workspace) {  // expand the path from the root to n, select it
    const p = firstParents(cur), path = [];
    for (let x = n; x >= 0; x = p[x]) path.unshift(x);
    let box = $("tree").querySelector(":scope > .node");
    for (let i = 1; i < path.length; i++) {
      const find = () => box.lastChild.querySelector(`:scope > .node[data-id="${path[i]}"]`);
      let next = isOpen(box) ? find() : null;
      if (!next) { expand(box, run().kids[+box.dataset.id].indexOf(path[i]) + 1); next = find(); }
      box = next;
    }
    select(box.firstChild, true);
    if (workspace) showWorkspace(n);
  }
  function drawTree() {
    const t = $("tree");
    t.replaceChildren();
    selected = null;
    if (!DATA.runs.length) return;
    const root = nodeEl(run().root);
    t.append(root);
    expand(root);
    select(root.firstChild);
  }
  $("tree").addEventListener("click", (e) => {
    const row = e.target.closest(".row");
    if (!row) return;
    const box = row.parentNode;
    if (e.target.classList.contains("tog") || row === selected) isOpen(box) ? collapse(box) : expand(box);
    select(row);
  });

  // ---- the side panel ------------------------------------------------------------------
  function link(n, i, text) {
    const a = el("a", "node", text || "#" + n);
    a.onclick = () => { if (i !== undefined && i !== cur) switchRun(i); reveal(n); };
    return a;
  }
  const kv = (k, v) => el("div", "kv", k + ": ", el("b", null, v));
  function listOf(items, make, limit) {
    const ul = el("ul");
    for (const x of items.slice(0, limit || 200)) ul.append(el("li", null, ...[].concat(make(x))));
    if (items.length > (limit || 200)) ul.append(el("li", "muted", `… ${items.length - (limit || 200)} more`));
    return ul;
  }
  function drawSummary() {
    const s = $("summary");
    s.replaceChildren();
    if (!DATA.runs.length) return;
    const R = run();
    s.append(el("h2", null, "run " + R.label), kv("run id", R.run_id), kv("task", R.task || "-"),
      kv("nodes", R.nodes), kv("database revision", R.db_revision === null ? "-" : R.db_revision));
    if (R.corrects) s.append(kv("corrects run", R.corrects));
    const rep = visitsOf(cur);
    if (rep) {
      const box = el("section", "report");
      box.id = "report";
      const blamed = rep.visits.filter((v) => v.blamed);
      box.append(el("h2", null, "backward pass"), kv("feedback", rep.feedback), kv("overseer", rep.overseer),
        kv("visited", rep.visits.length), kv("blamed", blamed.length), kv("unexplained", rep.unexplained.length),
        kv("conflicts", rep.conflicts.length));
      if (rep.blame_trees) box.append(kv("blame trees", rep.blame_trees + " (one a node visited; transcripts beside the report)"));
      if (blamed.length) box.append(el("h3", null, "blamed nodes"), listOf(blamed, (v) => [link(v.node), " " + short(run().q[v.node], 80)]));
      const edits = rep.visits.flatMap((v) => v.edits);
      const applied = rep.applied;
      if (applied && applied.entries.length) {
        box.append(el("h3", null, `database edits (committed, revision ${applied.revision})`),
          listOf(applied.entries, (e) => [`e${e.id} ${e.key}: ${e.text} `, el("span", "muted",
            `by ${e.author}, from run ${e.run_id}, node `), e.node_id === null ? "-" : link(e.node_id), el("span", "muted", `, feedback “${e.feedback}”`)]));
      } else if (edits.length) {
        box.append(el("h3", null, applied ? "database edits" : "database edits (proposed: a dry run)"),
          listOf(edits, (e) => [`${e.op} ${e.key || "e" + e.entry_id}: ${e.text || ""} `, el("span", "muted", e.reason + " at "), link(e.node)]));
      }
      if (applied && applied.removed.length) box.append(kv("removed entries", applied.removed.map((i) => "e" + i).join(", ")));
      const corr = rep.visits.filter((v) => v.correction);
      if (corr.length) box.append(el("h3", null, "corrections"), listOf(corr, (v) => [link(v.node), ` step ${v.correction.step}: ${v.correction.action}`]));
      if (rep.conflicts.length) box.append(el("h3", null, "conflicts"), listOf(rep.conflicts, (c) => [link(c.node), " asked for " + c.targets.map((t) => `“${t[1]}” by #${t[0]}`).join(", ")]));
      if (rep.unexplained.length) box.append(el("h3", null, "unexplained"), listOf(rep.unexplained, (n) => [link(n), " " + short(run().q[n], 80)]));
      s.append(box);
    }
    const df = diffOf(cur);
    if (df) {
      const other = DATA.runs[df.other], box = el("section", "diff");
      box.id = "diff";
      const marked = Object.keys(df.marks).map(Number).sort((x, y) => x - y);
      box.append(el("h2", null, "run diff against " + other.label));
      box.append(df.first === null ? el("div", null, "the runs do not part: same doings, same answers")
        : el("div", null, "the runs part at ", link(df.first), " " + short(run().q[df.first], 80), " (in " + other.label + ": ", link(df.d["first_" + (df.d.b === cur ? "a" : "b")], df.other), ")"));
      if (marked.length) box.append(el("h3", null, marked.length + " node(s) differ"), listOf(marked, (n) => [link(n), " " + df.marks[n] + ": " + short(run().q[n], 70)], 100));
      s.append(box);
    }
  }
  function showNode(n) {
    const R = run(), box = $("node");
    box.hidden = false;
    box.replaceChildren();
    const [pname, kind] = R.policies[R.pol[n]];
    const ws = el("button", null, "workspace (Enter)");
    ws.id = "open-workspace";
    ws.onclick = () => showWorkspace(n);
    put(box, el("h2", null, "node #" + n), kv("question", R.q[n]),
      R.fail[n] ? kv("failure", R.fail[n]) : null, kv("answer", R.a[n] === null ? "(none)" : R.a[n]),
      kv("policy", `${pname} (${kind})`), kv("cost", R.cost[n] + " action(s)"), kv("depth", R.depth[n]),
      R.np[n] > 1 ? kv("shared", `asked ${R.np[n]} times (memoized: one node, reused)`) : null);
    const p = firstParents(cur)[n];
    if (p >= 0) box.append(el("div", "kv", "asked by ", link(p)));
    const rep = visitsOf(cur), v = rep && rep._byNode[n];
    if (v) {
      const b = el("section", "blame");
      b.append(el("h3", null, "backward pass"), kv("target", v.target),
        kv("verdict", v.ok ? "ok: already gives its target" : v.blamed ? "blamed" : Object.keys(v.targets).length ? "passes the blame down" : "unexplained"));
      const ts = Object.entries(v.targets);
      if (ts.length) b.append(el("div", null, "targets passed down:"), listOf(ts, ([c, t]) => [link(+c), " should answer “" + t + "”"]));
      if (v.edits.length) b.append(el("div", null, "database edits:"), listOf(v.edits, (e) => `${e.op} ${e.key || "e" + e.entry_id}: ${e.text || ""} (${e.reason})`));
      if (v.correction) b.append(kv("correction", `step ${v.correction.step}: ${v.correction.action}`));
      if (v.note) b.append(kv("note", v.note));
      if (v.blame_tree) b.append(kv("blame tree", v.blame_tree));
      box.append(b);
    }
    const df = diffOf(cur);
    if (df && (df.marks[n] || df.first === n)) box.append(kv("diff", df.first === n ? "the runs part here" : df.marks[n]));
    box.append(ws, el("div", null));
  }
  function messageEl(i) {  // a pointer: its top level, its own pointers expandable in turn
    const D = details()[cur], [text, refs] = D.msgs[i], d = el("details", "ptr");
    d.append(el("summary", null, short(text, 200)));
    d.addEventListener("toggle", () => {
      if (!d.open || d.childNodes.length > 1) return;
      d.append(el("pre", null, text));
      refs.forEach((r, k) => d.append(el("div", null, `$${k + 1}:`), messageEl(r)));
    });
    return d;
  }
  function showWorkspace(n) {
    const D = details()[cur], lines = D.lines[n], steps = D.steps[n], box = $("node").lastChild;
    box.replaceChildren();
    box.id = "workspace";
    box.append(el("h3", null, `workspace, step by step (${steps.length})`));
    steps.forEach(([kind, action, result, seen, child, error, lookup], i) => {
      const d = el("details", "step");
      d.open = steps.length <= 8;
      d.append(el("summary", null, `${i}. ${kind || "?"}  ${short(action, 100)}`), el("div", "muted", "saw:"),
        el("pre", "saw", lines.slice(0, seen).join("\n")), el("div", null, "action: ", el("code", null, action)));
      if (error) d.append(el("div", "error", "refused: " + error));
      else if (child >= 0) d.append(el("div", null, "child: ", link(child), " answered: ", el("code", null, result)));
      else if (result) d.append(el("div", null, "result:"), el("pre", null, result));
      if (lookup) d.append(el("div", "lookup", `lookup “${lookup[0]}”: entries ${lookup[1].map((e) => "e" + e).join(", ") || "none"}, database revision ${lookup[2]}`));
      box.append(d);
    });
    box.append(el("div", "muted", "the workspace at the end:"), el("pre", "final", lines.join("\n")));
    box.scrollIntoView({ block: "start" });
    const ptr = D.ptr[n];
    if (ptr && ptr.length) {
      box.append(el("h3", null, "pointers"));
      for (const [name, m] of ptr) box.append(el("div", null, name + ":"), messageEl(m));
    }
  }

  // ---- search, runs, keys --------------------------------------------------------------
  function search(text) {
    const res = $("results");
    hits = []; hitAt = -1;
    if (!text) { res.hidden = true; return; }
    const R = run(), t = text.toLowerCase();
    const low = lowerCache[cur] || (lowerCache[cur] = { q: R.q.map((s) => s.toLowerCase()), a: R.a.map((s) => (s || "").toLowerCase()) });
    let count = 0;
    for (let n = 0; n < R.q.length; n++) {
      if (low.q[n].includes(t) || low.a[n].includes(t)) { count++; if (hits.length < HITS) hits.push(n); }
    }
    res.replaceChildren(el("div", "muted", `${count} match(es)` + (count > HITS ? `, the first ${HITS} shown` : "") + " (Enter or n: next)"));
    for (const n of hits) {
      const h = el("div", "hit", "#" + n + " " + short(R.q[n], 140) + (R.a[n] === null ? "" : "  → " + short(R.a[n], 60)));
      h.dataset.id = n;
      h.onclick = () => reveal(n);
      res.append(h);
    }
    res.hidden = false;
  }
  function nextHit(step) {
    if (!hits.length) return;
    hitAt = (hitAt + step + hits.length) % hits.length;
    $("results").querySelectorAll(".hit").forEach((h, i) => h.classList.toggle("current", i === hitAt));
    reveal(hits[hitAt]);
  }
  let timer = 0;
  $("search").addEventListener("input", (e) => { clearTimeout(timer); timer = setTimeout(() => search(e.target.value), 120); });
  $("search").addEventListener("keydown", (e) => {
    if (e.key === "Enter") { clearTimeout(timer); if (!hits.length) search(e.target.value); nextHit(1); }
    if (e.key === "Escape") e.target.blur();
  });
  function switchRun(i) {
    cur = i;
    document.querySelectorAll("#runs button").forEach((b, k) => b.classList.toggle("current", k === i));
    $("node").hidden = true;
    drawSummary();
    drawTree();
    if ($("search").value) search($("search").value);
  }
  function rows() { return Array.from($("tree").querySelectorAll(".row")); }
  function move(step) {
    const all = rows(), i = all.indexOf(selected) + step;
    if (i >= 0 && i < all.length) select(all[i], true);
  }
  function cycle(list) {  // the next node in `list` after the selected one
    if (!list.length) return;
    const at = selected ? +selected.dataset.id : -1;
    reveal(list.find((n) => n > at) ?? list[0]);
  }
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" || e.ctrlKey || e.metaKey || e.altKey) return;
    const box = selected && selected.parentNode, k = e.key;
    if (k === "ArrowDown" || k === "j") move(1);
    else if (k === "ArrowUp" || k === "k") move(-1);
    else if ((k === "ArrowRight" || k === "l") && box) isOpen(box) ? move(1) : expand(box);
    else if ((k === "ArrowLeft" || k === "h") && box) {
      if (isOpen(box)) collapse(box);
      else { const up = box.parentNode.closest(".node"); if (up) select(up.firstChild, true); }
    } else if (k === "Enter" && selected) showWorkspace(+selected.dataset.id);
    else if (k === "/") $("search").focus();
    else if (k === "n") nextHit(1);
    else if (k === "N") nextHit(-1);
    else if (k === "b") { const r = visitsOf(cur); if (r) cycle(r.visits.filter((v) => v.blamed).map((v) => v.node)); }
    else if (k === "d") { const d = diffOf(cur); if (d && d.first !== null) reveal(d.first); }
    else if (/^[1-9]$/.test(k) && +k <= DATA.runs.length) switchRun(+k - 1);
    else return;
    e.preventDefault();
  });

  // ---- start -----------------------------------------------------------------------------
  DATA.runs.forEach((R, i) => {
    const b = el("button", null, (i + 1) + ". " + R.label);
    b.onclick = () => switchRun(i);
    $("runs").append(b);
  });
  if (DATA.curves) {
    const c = $("curves"), t = el("table");
    c.hidden = false;
    const tpl = document.createElement("template");
    tpl.innerHTML = DATA.curves.svg;  // drawn by ida.view.svg, every label escaped there
    c.append(el("h2", null, DATA.curves.title), tpl.content);
    t.append(el("tr", null, ...DATA.curves.columns.map((h) => el("th", null, h))));
    for (const r of DATA.curves.rows) t.append(el("tr", null, ...r.map((x) => el("td", null, x))));
    c.append(t);
    if (!DATA.runs.length) for (const x of [document.querySelector("main"), $("search"), $("keys")]) x.hidden = true;
  }
  if (DATA.runs.length) switchRun(0);
  requestAnimationFrame(() => { document.body.dataset.ready = String(performance.now()); });
})();
