// The live page of "gluster-eventsapi listen --web".
//
// It follows /events (Server-Sent Events): a "snapshot" first (on every reconnect), then a
// "row" per request, "stats" every second, "pool" when the pool's delivery state changes,
// and for the "now" panel "conditions" (the pool's open conditions, read from every node)
// and "condition" (one that an event opened, changed or closed; null entry: it is gone).
// Everything in a row came from whoever sent the request, so nothing from it is ever parsed
// as HTML: every value goes into the page through textContent, attributes set one by one,
// or SVG elements built with createElementNS. Standard DOM APIs only (Chromium, Firefox).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const SVG_NS = "http://www.w3.org/2000/svg";

  const state = {
    maxEvents: 1000,
    rows: [],            // oldest first, at most maxEvents
    lastSeq: 0,
    catalog: new Set(),
    unknownNames: new Set(),
    nodes: new Set(),
    nodeNames: new Map(), // node id -> pool node name (with --pool)
    stats: null,
    pending: [],
    frame: 0,
    filter: { event: "", node: "", text: "" },
    now: { entries: new Map(), loaded: false, error: "", names: new Map(), readAt: null, frame: 0, fresh: new Set() },
  };
  const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 };

  // --- small helpers -----------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  function clock(seconds) {
    const d = new Date(seconds * 1000);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function fullTime(seconds) {
    const d = new Date(seconds * 1000);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(seconds)}`;
  }

  // The CLI's way of writing an age: 4s, 1m12s, 2h05m, 3d04h.
  function age(seconds) {
    if (typeof seconds !== "number" || !isFinite(seconds)) return "-";
    let s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h${pad(Math.floor(s % 3600 / 60))}m`;
    return `${Math.floor(s / 86400)}d${pad(Math.floor(s % 86400 / 3600))}h`;
  }

  function valueText(value) {
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function shortNode(id) {
    return id.length > 13 ? id.slice(0, 8) + "…" : id;
  }

  function nodeLabel(id) {
    const name = state.nodeNames.get(id) || state.now.names.get(id);
    return name ? `${name} · ${shortNode(id)}` : id;
  }

  // --- filtering ---------------------------------------------------------------------

  function searchText(row) {
    const parts = [row.event, row.node, state.nodeNames.get(row.node) || "", row.kind,
      row.auth, row.note, row.peer, row.path];
    for (const [key, value] of Object.entries(row.message || {})) {
      parts.push(`${key}=${valueText(value)}`);
    }
    return parts.join("\u0000").toLowerCase();
  }

  function matches(row) {
    const f = state.filter;
    if (f.event === "@test") { if (row.kind !== "test") return false; }
    else if (f.event === "@failed") { if (row.auth !== "failed") return false; }
    else if (f.event === "@invalid") { if (row.kind !== "invalid") return false; }
    else if (f.event && (row.kind !== "event" || row.event !== f.event)) return false;
    if (f.node && row.node !== f.node) return false;
    if (f.text) {
      if (row._search === undefined) row._search = searchText(row);
      if (!row._search.includes(f.text)) return false;
    }
    return true;
  }

  // --- events table ------------------------------------------------------------------

  function badge(kind, text, title) {
    const b = el("span", `badge ${kind}`, text);
    if (title) b.title = title;
    return b;
  }

  function rowElement(row, fresh) {
    const tr = el("tr");
    tr.dataset.seq = String(row.seq);
    tr.dataset.kind = row.kind;
    tr.dataset.auth = row.auth;
    tr.dataset.event = row.event;
    tr.dataset.node = row.node;
    if (fresh) tr.classList.add("fresh");
    if (row.auth === "failed") tr.classList.add("refused");

    const when = typeof row.ts === "number" ? row.ts : row.received;
    const time = el("td", "time", clock(when));
    time.title = `event time ${fullTime(when)}; received ${fullTime(row.received)} from ${row.peer}`;
    tr.appendChild(time);

    const node = el("td", "node");
    if (row.node) {
      const name = state.nodeNames.get(row.node);
      if (name) node.appendChild(el("span", "name", name));
      node.appendChild(el("span", "mono", shortNode(row.node)));
      node.title = row.node;
    } else {
      node.appendChild(el("span", "note", row.peer));
      node.title = `sent from ${row.peer}`;
    }
    tr.appendChild(node);

    const event = el("td", "event");
    if (row.kind === "test") event.appendChild(badge("kind", "test request", `POST ${row.path} with an empty body`));
    else if (row.kind === "invalid") event.appendChild(badge("kind", "invalid body"));
    else event.textContent = row.event || "(no event name)";
    tr.appendChild(event);

    const attrs = el("td", "attrs");
    for (const [key, value] of Object.entries(row.message || {})) {
      if (attrs.firstChild) attrs.appendChild(document.createTextNode(" "));
      const chip = el("span", "attr");
      chip.appendChild(el("span", "k", key));
      chip.appendChild(document.createTextNode("="));
      chip.appendChild(el("span", "v", valueText(value)));
      attrs.appendChild(chip);
    }
    if (row.note && (row.auth === "failed" || row.kind !== "event" || !Object.keys(row.message || {}).length)) {
      if (attrs.firstChild) attrs.appendChild(document.createTextNode(" "));
      attrs.appendChild(el("span", "note", row.note));
    }
    tr.appendChild(attrs);

    const auth = el("td", "auth");
    auth.appendChild(badge(row.auth, row.auth, row.note || (row.auth === "none" ? "listen was given no credentials to check" : "")));
    tr.appendChild(auth);
    row._tr = tr;
    return tr;
  }

  function renderAllRows() {
    const body = $("rows");
    const fragment = document.createDocumentFragment();
    let shown = 0;
    for (let i = state.rows.length - 1; i >= 0; i--) {
      const row = state.rows[i];
      row._tr = null;
      if (matches(row)) {
        fragment.appendChild(rowElement(row, false));
        shown++;
      }
    }
    body.replaceChildren(fragment);
    updateShown(shown);
  }

  function updateShown(shown) {
    if (shown === undefined) shown = $("rows").childElementCount;
    const total = state.rows.length;
    const filtered = state.filter.event || state.filter.node || state.filter.text;
    $("shown").textContent = filtered ? `showing ${shown} of ${total} held` : `${total} held`;
    $("empty").hidden = total > 0;
  }

  function addRows(rows) {
    const body = $("rows");
    for (const row of rows) {
      if (row.seq <= state.lastSeq) continue; // already in the snapshot
      state.lastSeq = row.seq;
      state.rows.push(row);
      noteNames(row);
      countLocally(row);
      if (matches(row)) body.insertBefore(rowElement(row, true), body.firstChild);
    }
    while (state.rows.length > state.maxEvents) {
      const gone = state.rows.shift();
      if (gone._tr) gone._tr.remove();
    }
    updateShown();
  }

  function scheduleRows() {
    if (state.frame) return;
    const flush = () => {
      state.frame = 0;
      const rows = state.pending;
      state.pending = [];
      addRows(rows);
      renderCounts();
      if (state.stats) renderTimeline(state.stats.timeline);
    };
    // A hidden tab gets no animation frames: a timer makes sure rows still land.
    state.frame = document.hidden ? setTimeout(flush, 250) : requestAnimationFrame(flush);
  }

  // --- names, nodes and the filter lists ---------------------------------------------

  function noteNames(row) {
    if (row.kind === "event" && row.event && !state.catalog.has(row.event) && !state.unknownNames.has(row.event)
        && state.unknownNames.size < 500) {
      state.unknownNames.add(row.event);
      const option = el("option", null, row.event);
      option.value = row.event;
      $("filter-event-unknown").appendChild(option);
    }
    if (row.node) addNode(row.node);
  }

  function addNode(id) {
    if (state.nodes.has(id) || state.nodes.size >= 500) return;
    state.nodes.add(id);
    const option = el("option", null, nodeLabel(id));
    option.value = id;
    $("filter-node").appendChild(option);
  }

  function relabelNodes() {
    for (const option of $("filter-node").options) {
      if (option.value) option.textContent = nodeLabel(option.value);
    }
  }

  function setCatalog(names) {
    state.catalog = new Set(names);
    const group = $("filter-event-catalog");
    const fragment = document.createDocumentFragment();
    for (const name of names) {
      const option = el("option", null, name);
      option.value = name;
      fragment.appendChild(option);
    }
    group.replaceChildren(fragment);
  }

  // --- counts and timeline -----------------------------------------------------------

  function countLocally(row) {
    // Until the next "stats" message (at most a second away) the counts grow here.
    const stats = state.stats;
    if (!stats) return;
    if (row.kind === "event" && row.auth !== "failed") {
      const name = row.event || "?", node = row.node || "?";
      stats.events[name] = (stats.events[name] || 0) + 1;
      stats.nodes[node] = (stats.nodes[node] || 0) + 1;
      const timeline = stats.timeline, counts = timeline.counts, second = Math.floor(row.received);
      if (second > timeline.end) { // a new second: shift the series left
        const shift = Math.min(counts.length, second - timeline.end);
        counts.splice(0, shift);
        for (let i = 0; i < shift; i++) counts.push(0);
        timeline.end = second;
      }
      const index = counts.length - 1 - (timeline.end - second);
      if (index >= 0) counts[index] += 1;
    }
    const kind = `${row.kind}:${row.auth}`;
    stats.kinds[kind] = (stats.kinds[kind] || 0) + 1;
  }

  // Updated in place, every second: a row keeps its element (and a click on it is not lost
  // to a re-render), only its count, bar and position change.
  function countTable(table, counts, selected, label, pick) {
    const entries = Object.entries(counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const max = entries.length ? entries[0][1] : 1;
    const body = table.tBodies[0];
    const rows = table._rows || (table._rows = new Map());
    const wanted = new Set();
    entries.forEach(([key, count], index) => {
      wanted.add(key);
      let tr = rows.get(key);
      if (!tr) {
        tr = el("tr");
        tr.dataset.key = key;
        const name = el("td", "name");
        name.title = key;
        const bar = el("td", "bar");
        bar.appendChild(el("span"));
        tr.append(name, bar, el("td", "count"));
        tr.addEventListener("click", () => table._pick(key));
        rows.set(key, tr);
      }
      tr.cells[0].textContent = label(key);
      tr.cells[1].firstChild.style.width = `${Math.max(2, Math.round(100 * count / max))}%`;
      tr.cells[2].textContent = String(count);
      tr.classList.toggle("selected", key === selected);
      if (body.children[index] !== tr) body.insertBefore(tr, body.children[index] || null);
    });
    for (const [key, tr] of rows) {
      if (!wanted.has(key)) { tr.remove(); rows.delete(key); }
    }
    table._pick = (key) => pick(key === selected ? "" : key);
  }

  function renderCounts() {
    const stats = state.stats;
    if (!stats) return;
    countTable($("counts-events"), stats.events, state.filter.event, (k) => k, (key) => setFilter("event", key));
    countTable($("counts-nodes"), stats.nodes, state.filter.node, nodeLabel, (key) => setFilter("node", key));
    const kinds = stats.kinds || {};
    const sum = (test) => Object.entries(kinds).filter(([k]) => test(k)).reduce((a, [, v]) => a + v, 0);
    $("total-events").textContent = String(sum((k) => k.startsWith("event:") && k !== "event:failed"));
    $("total-tests").textContent = String(sum((k) => k.startsWith("test:") && k !== "test:failed"));
    $("total-refused").textContent = String(sum((k) => k.endsWith(":failed") || k.startsWith("invalid:")));
    $("total-clients").textContent = String(stats.clients || 0);
  }

  function renderTimeline(timeline) {
    const svg = $("timeline");
    const counts = timeline.counts || [];
    const width = counts.length || 300;
    const peak = Math.max(1, ...counts);
    svg.setAttribute("viewBox", `0 0 ${width} 60`);
    const fragment = document.createDocumentFragment();
    for (const y of [15, 30, 45]) {
      const line = document.createElementNS(SVG_NS, "line");
      line.setAttribute("class", "grid");
      line.setAttribute("x1", "0"); line.setAttribute("x2", String(width));
      line.setAttribute("y1", String(y)); line.setAttribute("y2", String(y));
      fragment.appendChild(line);
    }
    counts.forEach((count, i) => {
      if (!count) return;
      const h = Math.max(1.5, 58 * count / peak);
      const bar = document.createElementNS(SVG_NS, "rect");
      bar.setAttribute("class", "bar");
      bar.setAttribute("x", String(i));
      bar.setAttribute("width", "0.85");
      bar.setAttribute("y", String(60 - h));
      bar.setAttribute("height", String(h));
      const title = document.createElementNS(SVG_NS, "title");
      title.textContent = `${clock(timeline.end - (width - 1 - i))}: ${count}/s`;
      bar.appendChild(title);
      fragment.appendChild(bar);
    });
    svg.replaceChildren(fragment);
    const last10 = counts.slice(-10).reduce((a, b) => a + b, 0) / 10;
    $("timeline-rate").textContent = `peak ${peak}/s · last 10 s ${last10.toFixed(1)}/s`;
    $("timeline-start").textContent = `−${Math.round(width / 60)} min`;
    svg.dataset.total = String(counts.reduce((a, b) => a + b, 0));
  }

  function applyStats(stats) {
    state.stats = stats;
    renderCounts();
    renderTimeline(stats.timeline);
    if (state.now.entries.size) scheduleNow(); // the ages move on
  }

  // --- pool health -------------------------------------------------------------------

  function poolCell(tr, text, className) {
    const td = el("td", className || null, text);
    tr.appendChild(td);
    return td;
  }

  function renderPool(pool) {
    if (!pool) return;
    const section = $("pool");
    section.hidden = false;
    const nodes = pool.nodes || [];
    const names = new Map();
    for (const node of nodes) {
      if (node.nodeid) names.set(node.nodeid, node.node);
    }
    const renamed = JSON.stringify([...names]) !== JSON.stringify([...state.nodeNames]);
    if (renamed) {
      state.nodeNames = names;
      for (const row of state.rows) row._search = undefined;
      relabelNodes();
    }
    const body = $("pool-rows");
    const fragment = document.createDocumentFragment();
    const problems = [];
    for (const node of nodes) {
      const hooks = node.webhooks || [];
      if (node.health === "unreachable" || !hooks.length) {
        const tr = el("tr", `health-${node.health || "ok"}`);
        tr.dataset.node = node.node;
        tr.dataset.health = node.health || "ok";
        poolCell(tr, node.node);
        const td = poolCell(tr, node.error || (hooks.length ? "" : "no webhooks"), node.error ? "error" : "note");
        td.colSpan = 7;
        fragment.appendChild(tr);
        if (node.health === "unreachable") problems.push(`${node.node}: ${node.error || "no answer"}`);
        continue;
      }
      for (const hook of hooks) {
        const tr = el("tr", `health-${hook.health}`);
        tr.dataset.node = node.node;
        tr.dataset.webhook = hook.url;
        tr.dataset.health = hook.health;
        poolCell(tr, node.node);
        poolCell(tr, hook.url + (hook.insecure_tls ? " (insecure TLS)" : ""), "url");
        poolCell(tr, hook.queued, "num");
        poolCell(tr, hook.queued ? age(hook.oldest_age_secs) : "-", "num");
        poolCell(tr, hook.retried, "num");
        poolCell(tr, hook.dead_letters, "num");
        const error = hook.last_error ? `${hook.last_error} (${age(hook.last_error_age_secs)} ago)` : "-";
        poolCell(tr, error, hook.health === "failing" ? "error" : null);
        poolCell(tr, hook.last_success_age_secs === null || hook.last_success_age_secs === undefined
          ? "never" : `${age(hook.last_success_age_secs)} ago`);
        fragment.appendChild(tr);
        if (hook.health === "failing") problems.push(`${node.node}: ${hook.url} failing — ${hook.last_error}`);
        else if (hook.health === "behind") problems.push(`${node.node}: ${hook.url} behind — oldest ${age(hook.oldest_age_secs)}`);
      }
    }
    body.replaceChildren(fragment);
    const summary = $("pool-summary");
    summary.className = `pool-summary ${pool.health || (pool.ok ? "ok" : "unreachable")}`;
    summary.dataset.health = pool.health || "";
    if (!pool.ok && !nodes.length) summary.textContent = pool.error || "pool status unavailable";
    else if (pool.message) summary.textContent = pool.message;
    else if (problems.length) summary.textContent = (pool.error ? `${pool.error}. ` : "") + problems.join("; ");
    else summary.textContent = `Every webhook is delivering on ${nodes.length} node${nodes.length === 1 ? "" : "s"}.`;
    const refreshed = $("pool-refreshed");
    refreshed.textContent = `refreshed ${clock(pool.at)} (took ${pool.took_secs}s), every ${pool.interval}s`;
    refreshed.classList.toggle("stale", Boolean(pool.stale));
    // Rows name their node once the pool says which id is which.
    if (renamed) { renderAllRows(); renderCounts(); }
  }

  // --- the "now" panel: open conditions --------------------------------------------

  function isoTime(seconds) {
    return new Date(seconds * 1000).toISOString();
  }

  function timeElement(seconds) {
    const t = el("time", null, clock(seconds));
    t.setAttribute("datetime", isoTime(seconds));
    t.title = fullTime(seconds);
    return t;
  }

  function nowRow(entry, now) {
    const tr = el("tr", `sev-${entry.severity || "none"}`);
    tr.dataset.key = entry.key;
    tr.dataset.alertname = entry.alertname;
    tr.dataset.severity = entry.severity;
    tr.dataset.kind = entry.kind;
    if (state.now.fresh.has(entry.key)) tr.classList.add("fresh");

    const severity = el("td", "severity");
    severity.appendChild(badge(`sev-${entry.severity || "none"}`, entry.severity || "?"));
    tr.appendChild(severity);

    const condition = el("td", "condition", entry.alertname);
    if (entry.kind === "alarm") condition.appendChild(badge("alarm", "alarm", "a one-shot alarm: it leaves when its time is up"));
    tr.appendChild(condition);

    const labels = el("td", "labels");
    for (const [key, value] of Object.entries(entry.labels || {}).sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (labels.firstChild) labels.appendChild(document.createTextNode(" "));
      const chip = el("span", "attr");
      chip.dataset.label = key;
      chip.appendChild(el("span", "k", key));
      chip.appendChild(document.createTextNode("="));
      chip.appendChild(el("span", "v", value));
      labels.appendChild(chip);
    }
    tr.appendChild(labels);

    const since = el("td", "since");
    since.appendChild(timeElement(entry.since));
    since.appendChild(el("span", "ago", `${age(now - entry.since)} ago`));
    if (typeof entry.ends_at === "number") {
      const until = el("span", "until", "until ");
      until.appendChild(timeElement(entry.ends_at));
      since.appendChild(until);
    }
    tr.appendChild(since);

    const nodes = el("td", "nodes");
    for (const id of entry.nodes || []) {
      const name = state.nodeNames.get(id) || state.now.names.get(id);
      const span = el("span", null, !id ? "(no node id)" : name ? `${name} · ${shortNode(id)}` : shortNode(id));
      span.dataset.node = id;
      span.title = id;
      nodes.appendChild(span);
    }
    tr.appendChild(nodes);

    tr.appendChild(el("td", "summary", entry.summary));
    return tr;
  }

  function renderNow() {
    const now = state.stats ? state.stats.now : Date.now() / 1000;
    const entries = [...state.now.entries.values()].sort((a, b) =>
      ((SEVERITY_RANK[a.severity] ?? 3) - (SEVERITY_RANK[b.severity] ?? 3)) || (a.since - b.since)
      || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const fragment = document.createDocumentFragment();
    for (const entry of entries) fragment.appendChild(nowRow(entry, now));
    $("now-rows").replaceChildren(fragment);
    state.now.fresh.clear();
    $("now-table").hidden = entries.length === 0;
    const reading = !state.now.loaded && !state.now.error;
    $("now-empty").hidden = entries.length > 0 || reading;
    const critical = entries.filter((e) => e.severity === "critical").length;
    $("now-count").textContent = entries.length
      ? `${entries.length} open${critical ? ` · ${critical} critical` : ""}` : "";
    const status = $("now-status");
    status.classList.toggle("error", Boolean(state.now.error));
    status.textContent = state.now.error || (reading ? "Reading the pool's open conditions…" : "");
    status.hidden = !status.textContent;
    $("now-read").textContent = state.now.readAt
      ? `pool read at ${clock(state.now.readAt)}, then kept current by the events` : "";
    $("now").dataset.loaded = state.now.loaded ? "1" : "";
  }

  function scheduleNow() {
    if (state.now.frame) return;
    const flush = () => { state.now.frame = 0; renderNow(); };
    state.now.frame = document.hidden ? setTimeout(flush, 250) : requestAnimationFrame(flush);
  }

  function applyConditions(snapshot) {
    $("now").hidden = !snapshot;
    if (!snapshot) return;
    state.now.entries = new Map((snapshot.entries || []).map((entry) => [entry.key, entry]));
    state.now.loaded = Boolean(snapshot.loaded);
    state.now.error = snapshot.error || "";
    state.now.readAt = snapshot.read_at;
    const names = new Map(Object.entries(snapshot.names || {}));
    const renamed = JSON.stringify([...names]) !== JSON.stringify([...state.now.names]);
    state.now.names = names;
    if (renamed) relabelNodes();
    scheduleNow();
  }

  function applyCondition(change) {
    if (change.entry) {
      if (!state.now.entries.has(change.key)) state.now.fresh.add(change.key);
      state.now.entries.set(change.key, change.entry);
    } else {
      state.now.entries.delete(change.key);
    }
    scheduleNow();
  }

  // --- filter controls ---------------------------------------------------------------

  function setFilter(which, value) {
    state.filter[which] = value;
    if (which === "event") $("filter-event").value = value;
    if (which === "node") {
      if (value) addNode(value);
      $("filter-node").value = value;
    }
    renderAllRows();
    renderCounts();
  }

  function readFilters() {
    state.filter.event = $("filter-event").value;
    state.filter.node = $("filter-node").value;
    state.filter.text = $("filter-text").value.trim().toLowerCase();
    renderAllRows();
    renderCounts();
  }

  // --- the stream --------------------------------------------------------------------

  function applySnapshot(snapshot) {
    state.maxEvents = snapshot.max_events;
    $("max-events").textContent = String(snapshot.max_events);
    setCatalog(snapshot.catalog || []);
    state.rows = [];
    state.lastSeq = 0;
    state.pending = [];
    state.stats = snapshot.stats;
    for (const row of snapshot.rows) {
      state.rows.push(row);
      state.lastSeq = Math.max(state.lastSeq, row.seq);
      noteNames(row);
    }
    for (const node of Object.keys(snapshot.stats.nodes || {})) if (node !== "?" && node !== "(other)") addNode(node);
    if (snapshot.pool_enabled) $("pool").hidden = false;
    if (snapshot.pool) renderPool(snapshot.pool);
    applyConditions(snapshot.conditions);
    $("filter-event").value = state.filter.event;
    $("filter-node").value = state.filter.node;
    renderAllRows();
    applyStats(snapshot.stats);
    document.body.dataset.ready = "1";
  }

  function connect() {
    const status = $("connection");
    const source = new EventSource("events");
    source.addEventListener("open", () => {
      status.className = "connection live";
      status.textContent = "live";
    });
    source.addEventListener("error", () => {
      status.className = "connection lost";
      status.textContent = source.readyState === EventSource.CLOSED ? "disconnected (reload the page)" : "reconnecting…";
      document.body.dataset.ready = "";
    });
    source.addEventListener("snapshot", (e) => applySnapshot(JSON.parse(e.data)));
    source.addEventListener("row", (e) => {
      state.pending.push(JSON.parse(e.data));
      if (state.pending.length > state.maxEvents) state.pending.shift();
      scheduleRows();
    });
    source.addEventListener("stats", (e) => applyStats(JSON.parse(e.data)));
    source.addEventListener("pool", (e) => renderPool(JSON.parse(e.data)));
    source.addEventListener("conditions", (e) => applyConditions(JSON.parse(e.data)));
    source.addEventListener("condition", (e) => applyCondition(JSON.parse(e.data)));
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("here").textContent = location.host;
    $("filter-event").addEventListener("change", readFilters);
    $("filter-node").addEventListener("change", readFilters);
    $("filter-text").addEventListener("input", readFilters);
    $("filters").addEventListener("submit", (e) => e.preventDefault());
    $("filter-clear").addEventListener("click", () => {
      $("filter-event").value = "";
      $("filter-node").value = "";
      $("filter-text").value = "";
      readFilters();
    });
    connect();
  });
})();
