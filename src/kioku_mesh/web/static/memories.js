// Memories: search as you type with the CLI's filters, a memory's page,
// save / supersede / delete / purge, and export of what the filters select.
import { age, clear, confirmDialog, el, errorBox, facts, get, post, toast } from "./dom.js";

const TYPES = ["note", "decision", "bug", "pattern", "config", "summary"];
const SCOPES = ["mesh", "user", "team", "legacy"];
// A query of one or two characters matches most of a large store as a word
// prefix (hundreds of ms at 100k memories): while typing, the page waits for
// the third character; Enter searches for whatever is there.
const MIN_TYPED = 3;
const TEXT_FILTERS = [["project", "project"], ["tags", "tags a,b"], ["agent", "agent family"],
  ["host", "host (pc id)"], ["since", "since (7d, ISO)"], ["until", "until"]];

let state = { params: new URLSearchParams("explain=1"), controller: null, timer: null };

function formParams(form) {
  const p = new URLSearchParams();
  const data = new FormData(form);
  for (const [k, v] of data.entries()) if (String(v).trim() !== "") p.append(k, String(v).trim());
  return p;
}

export function renderSearch(root) {
  const p = state.params;
  const input = el("input", { type: "search", name: "q", id: "q", placeholder: "search memories…",
    autocomplete: "off", value: p.get("q") || "", "aria-label": "search" });
  const filters = el("div.filters");
  for (const [name, label] of TEXT_FILTERS) {
    filters.append(el("input", { type: "text", name, placeholder: label, "aria-label": label,
      value: p.get(name) || "" }));
  }
  const types = el("select", { name: "type", "aria-label": "type" }, el("option", { value: "" }, "any type"),
    TYPES.map((t) => el("option", { value: t, selected: p.get("type") === t }, t)));
  const scopes = el("fieldset", {}, SCOPES.map((s) => el("label", {},
    el("input", { type: "checkbox", name: "scope", value: s, checked: p.getAll("scope").includes(s) }), s)));
  const hidden = el("fieldset", {}, ["deleted", "superseded", "expired"].map((h) => el("label", {},
    el("input", { type: "checkbox", name: h, value: "1", checked: p.get(h) === "1" }), h)));
  const explain = el("label", {}, el("input", { type: "checkbox", name: "explain", value: "1",
    checked: p.get("explain") === "1" }), "explain ranking");
  filters.append(types, el("span.dim", {}, "scope:"), scopes, el("span.dim", {}, "include:"), hidden, explain);
  const exportLink = el("a", { id: "export", href: "#", download: "" }, "Export these (JSONL)");
  const form = el("form", { id: "search-form", onsubmit: (e) => { e.preventDefault(); runSearch(); } },
    el("div.search-row", {}, input, el("a", { href: "#/new" }, el("button", { type: "button" }, "New memory"))),
    filters);
  const summary = el("div.summary-line", { id: "summary" });
  const results = el("div", { id: "results" });
  root.append(el("h2", {}, "Memories"), form, el("div.summary-line", {}, exportLink), summary, results);
  const update = () => {
    state.params = formParams(form);
    exportLink.href = `/api/export?${state.params}`;
    history.replaceState(null, "", `#/memories?${state.params}`);
    clearTimeout(state.timer);
    const typed = (state.params.get("q") || "").trim().length;
    if (typed === 0 || typed >= MIN_TYPED) state.timer = setTimeout(runSearch, 120);
  };
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  exportLink.href = `/api/export?${state.params}`;
  input.focus();
  runSearch();
}

export function setSearchParams(query) {
  if (query) state.params = new URLSearchParams(query);
}

export async function runSearch() {
  const results = document.getElementById("results");
  const summary = document.getElementById("summary");
  if (!results) return;
  if (state.controller) state.controller.abort();
  const controller = new AbortController();
  state.controller = controller;
  let data;
  try {
    data = await get("/api/search", state.params, controller.signal);
  } catch (err) {
    if (err.name === "AbortError") return;
    clear(results).append(errorBox(err));
    summary.textContent = "";
    return;
  }
  if (controller !== state.controller) return;
  const how = data.match === "any" ? " (no memory has every term: ranked by the terms each has)" : "";
  summary.textContent = `${data.hits.length} shown of ${data.total_text}${how} · ${data.took_ms} ms`;
  clear(results);
  if (!data.hits.length) results.append(el("p.dim", { id: "no-hits" }, "no matching memories"));
  for (const hit of data.hits) results.append(hitCard(hit));
}

function hitCard(hit) {
  const o = hit.observation;
  const card = el("div.hit", { "data-id": o.observation_id });
  const del = el("button", { type: "button", class: "delete", onclick: () => deleteFlow(o.observation_id) }, "Delete");
  card.append(
    el("span.actions", {}, hit.flags.includes("deleted") ? null : del),
    el("a.subject", { href: `#/memory/${o.observation_id}` }, o.subject),
    hit.flags.map((f) => el("span.flag", {}, f)),
    el("div.meta", {}, metaLine(o)),
    el("div.snippet", {}, o.summary || ""),
  );
  if (hit.why) card.append(el("div.why", {}, "why: " + hit.why));
  return card;
}

function metaLine(o) {
  const scope = o.scope_id ? `${o.visibility}/${o.scope_id}` : (o.visibility || "legacy");
  return [o.memory_type, o.project || "-", `${o.agent_family}/${o.client_id}`, `pc ${o.pc_id.slice(0, 8)}`,
    scope, age(o.created_at), o.tags.length ? "#" + o.tags.join(" #") : ""].filter(Boolean).join(" · ");
}

async function deleteFlow(oid, action = "delete") {
  let c;
  try {
    c = await get(`/api/memory/${oid}/consequences`, new URLSearchParams({ action }));
  } catch (err) { toast(err.message); return false; }
  const { ok, reason } = await confirmDialog({
    title: action === "delete" ? "Delete this memory?" : "Purge this memory for good?",
    subject: c.subject,
    facts: [["scope", c.scope], ["here", c.here], ["elsewhere", c.elsewhere]],
    reason: action === "delete",
    okText: action === "delete" ? "Delete" : "Purge",
  });
  if (!ok) return false;
  try {
    if (action === "delete") await post(`/api/memory/${oid}/delete`, { reason });
    else await post(`/api/memory/${oid}/purge`, { confirm: c.id });
  } catch (err) { toast(err.message); return false; }
  toast(action === "delete" ? "deleted" : "purged");
  if (location.hash.startsWith("#/memories")) runSearch();
  return true;
}

function chainList(items) {
  if (!items.length) return el("span.dim", {}, "none");
  return el("ul", {}, items.map((l) => el("li", {},
    l.present ? el("a", { href: `#/memory/${l.id}` }, l.subject) : el("span.dim", {}, `${l.id.slice(0, 12)} (not on this host)`),
    l.state.length ? el("span.flag", {}, l.state.join("; ")) : null)));
}

export async function renderMemory(root, oid) {
  let m;
  try { m = await get(`/api/memory/${encodeURIComponent(oid)}`); } catch (err) { root.append(errorBox(err)); return; }
  const o = m.observation;
  const actions = el("div", {},
    el("a", { href: `#/new?supersedes=${o.observation_id}` }, el("button", { type: "button", id: "supersede" }, "Supersede")), " ",
    m.tombstone ? null : el("button", { type: "button", id: "delete", onclick: async () => {
      if (await deleteFlow(o.observation_id)) renderAgain(); } }, "Delete"), " ",
    el("button", { type: "button", id: "purge", class: "danger", onclick: async () => {
      if (await deleteFlow(o.observation_id, "purge")) location.hash = "#/memories"; } }, "Purge"));
  const renderAgain = () => { clear(root); renderMemory(root, oid); };
  root.append(
    el("p", {}, el("a", { href: "#/memories" }, "← memories")),
    el("h2", { id: "memory-subject" }, o.subject),
    el("div", { id: "memory-state" }, m.state.map((s) => el("span.flag", {}, s))),
    actions,
    el("h3", {}, "Content"), el("pre.content", { id: "memory-content" }, o.content),
    facts([["summary", o.summary], ["id", o.observation_id], ["created", `${o.created_at} (${age(o.created_at)})`],
      ["project", o.project || "-"], ["type", o.memory_type], ["importance", String(o.importance)],
      ["tags", o.tags.join(", ")], ["scope", m.scope],
      ["origin", `${m.origin.how === "peer" ? "received from a peer" : m.origin.how === "import" ? "imported" : "written on this host"}`],
      ["written by", `${o.agent_family}/${o.client_id} on pc ${o.pc_id.slice(0, 12)}${m.origin.written_here ? " (this host)" : ""}, session ${o.session_id.slice(0, 12)}`],
      ["expires", o.expires_at], ["source files", o.source_files.join(", ")], ["references", o.references.join(", ")],
      ["deleted", m.tombstone ? `${m.tombstone.deleted_at} (${m.tombstone.reason})` : ""]]),
    el("h3", {}, "Supersede chain"),
    facts([["newer versions", chainList(m.newer)], ["older versions", chainList(m.older)]]),
  );
}

export function renderNew(root, query) {
  const p = new URLSearchParams(query || "");
  const sup = p.get("supersedes") || "";
  const field = (label, input) => [el("label", { for: input.id }, label), input];
  const form = el("form.stack", { id: "save-form" },
    field("subject", el("input", { id: "f-subject", name: "subject", required: true, maxlength: 500 })),
    field("content", el("textarea", { id: "f-content", name: "content", required: true })),
    field("summary", el("input", { id: "f-summary", name: "summary" })),
    field("project", el("input", { id: "f-project", name: "project" })),
    field("tags", el("input", { id: "f-tags", name: "tags", placeholder: "a,b" })),
    field("type", el("select", { id: "f-type", name: "memory_type" }, TYPES.map((t) => el("option", { value: t }, t)))),
    field("importance", el("select", { id: "f-importance", name: "importance" },
      [1, 2, 3, 4, 5].map((i) => el("option", { value: i, selected: i === 2 }, String(i))))),
    field("visibility", el("select", { id: "f-visibility", name: "visibility" },
      el("option", { value: "" }, "default"), ["mesh", "user", "team"].map((v) => el("option", { value: v }, v)))),
    field("supersedes", el("input", { id: "f-supersedes", name: "supersedes", value: sup })),
    el("div.wide", {}, el("button.primary", { type: "submit", id: "save" }, sup ? "Save new version" : "Save")),
  );
  const out = el("div", { id: "save-result" });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = Object.fromEntries(new FormData(form).entries());
    try {
      const r = await post("/api/memories", body);
      toast(`saved ${r.observation_id.slice(0, 12)}`);
      location.hash = `#/memory/${r.observation_id}`;
    } catch (err) { clear(out).append(errorBox(err)); }
  });
  root.append(el("h2", {}, sup ? "New version (supersedes)" : "New memory"), form, out);
  if (sup) {
    get(`/api/memory/${encodeURIComponent(sup)}`).then((m) => {
      form.subject.value = m.observation.subject;
      form.content.value = m.observation.content;
      form.project.value = m.observation.project;
      form.tags.value = m.observation.tags.join(",");
      form.memory_type.value = m.observation.memory_type;
    }).catch(() => {});
  }
}
