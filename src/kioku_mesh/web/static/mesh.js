// Mesh: this host's mode, node, peers (each fact with its age), TLS identity
// and certificate expiry, and team membership on a hub.
import { el, errorBox, facts, get, sinceEpoch } from "./dom.js";

function certFacts(c) {
  if (!c) return null;
  if (c.error) return facts([["file", c.path], ["error", c.error]]);
  const left = c.expired ? el("span.bad", {}, `EXPIRED ${-c.days_left} days ago`)
    : el("span", { class: c.days_left < 30 ? "warn" : "ok" }, `${c.days_left} days left`);
  return facts([["subject CN", c.subject_cn], ["SANs", (c.sans || []).join(", ")], ["issuer", c.issuer_cn],
    ["valid until", `${String(c.not_after).slice(0, 19)} UTC`], ["expiry", left], ["fingerprint", c.fingerprint],
    ["file", c.path]]);
}

export async function renderMesh(root) {
  let d;
  try { d = await get("/api/mesh"); } catch (err) { root.append(errorBox(err)); return; }
  const m = d.mesh;
  const node = m.node_running ? el("span.ok", {}, `running (${m.role}, pid ${m.pid}), reported ${sinceEpoch(m.updated)}`)
    : m.role ? el("span.warn", {}, `not running (the ${m.role} node last reported ${sinceEpoch(m.updated)})`)
      : el("span.dim", {}, "not running");
  const peers = Object.entries(m.peers || {}).sort();
  const peerRows = peers.map(([pc, p]) => el("tr", { "data-pc": pc },
    el("td", {}, pc.slice(0, 12)), el("td", {}, p.role || ""),
    el("td", {}, p.online ? el("span.ok", {}, "connected") : `last heard ${sinceEpoch(p.last_heard)}`),
    el("td", {}, p.last_sync ? `synced ${sinceEpoch(p.last_sync)}` : "not synced"),
    el("td", {}, p.error || p.last_sync_error || "")));
  const rejected = Object.entries(m.rejected || {});
  root.append(
    el("h2", {}, "Mesh"),
    el("div.cards", {},
      el("div.card", { id: "mode" }, el("div.dim", {}, "mode"), el("div.big", {}, d.mode)),
      el("div.card", {}, el("div.dim", {}, "host"), el("div.big", {}, d.pc_id.slice(0, 8))),
      el("div.card", { id: "backlog" }, el("div.dim", {}, "backlog (not yet published)"), el("div.big", {}, String(m.backlog))),
      el("div.card", {}, el("div.dim", {}, "peers online"), el("div.big", { id: "online-count" }, String((m.peers_online || []).length)))),
    el("h3", {}, "Node"),
    facts([["state", node], ["listen", (m.listen || []).join(", ")], ["dials", (m.connect || []).join(", ")],
      ["error", m.error && (m.state === "connecting" || m.state === "stopped") ? m.error : ""]]),
    el("h3", {}, `Peers (${peers.length})`),
    peers.length ? el("table", { id: "peers" }, el("thead", {}, el("tr", {}, ["peer", "role", "heard", "sync", "problem"].map((h) => el("th", {}, h)))),
      el("tbody", {}, peerRows)) : el("p.dim", { id: "peers" }, d.mode === "local" && !m.role ? "local mode: no mesh" : "no peer seen yet"),
    el("h3", {}, "Rejected samples"),
    rejected.length ? facts(rejected.map(([why, n]) => [why, String(n)])) : el("p.dim", {}, "none"),
    el("h3", {}, "TLS identity"),
    d.tls.info ? el("div", { id: "tls" },
      el("h4", {}, "this host's certificate"), certFacts(d.tls.info.peer) || el("p.dim", {}, "none"),
      el("h4", {}, "trusted CA"), certFacts(d.tls.info.trusted_ca) || el("p.dim", {}, "none"),
      d.tls.info.ca ? [el("h4", {}, "CA run on this host"), certFacts(d.tls.info.ca)] : null)
      : el("p.dim", { id: "tls" }, d.tls.configured ? d.tls.error : "no TLS on this host (plain TCP or local)"),
    ...(d.teams ? [el("h3", {}, "Teams (hub access control)"),
      facts([...Object.entries(d.teams.teams).map(([t, ms]) => [`team ${t}`, ms.join(", ")]),
        ["known users", d.teams.users.join(", ") || "(none)"]])] : []),
  );
}
