// Messages: inbox (with ack), what this dashboard sent (delivery and acks),
// send, and who is online.
import { age, clear, el, errorBox, get, post, toast } from "./dom.js";

function ackState(m) {
  if (!m.requires_ack && !m.acks.length) return "no ack asked";
  if (!m.acks.length) return m.expired ? "expired unacked" : "waiting for ack";
  return "acked by " + m.acks.map((a) => `${a.recipient_agent_id || "?"} (${a.recipient_session_id.slice(0, 8)})`).join(", ");
}

function table(headers, rows, id) {
  return el("table", { id }, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows));
}

export async function renderMessages(root) {
  let d;
  try { d = await get("/api/messages"); } catch (err) { root.append(errorBox(err)); return; }
  const out = el("div", { id: "send-result" });
  const form = el("form.stack", { id: "send-form" },
    el("label", { for: "m-to" }, "to"),
    el("div", {}, el("select", { id: "m-kind", name: "kind", "aria-label": "recipient kind" },
      el("option", { value: "to_agent" }, "agent"), el("option", { value: "to_session" }, "session")),
      " ", el("input", { id: "m-to", name: "to", required: true, placeholder: "agent id (client id) or session id" })),
    el("label", { for: "m-body" }, "message"), el("textarea", { id: "m-body", name: "body", required: true }),
    el("label", { for: "m-scope" }, "scope"),
    el("select", { id: "m-scope", name: "scope" }, ["mesh", "team", "user"].map((s) => el("option", { value: s }, s))),
    el("span", {}), el("label", {}, el("input", { type: "checkbox", id: "m-ack", name: "requires_ack", value: "1" }), " ask for an ack"),
    el("div.wide", {}, el("button.primary", { type: "submit", id: "send" }, "Send")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    try {
      await post("/api/messages", { [f.get("kind")]: f.get("to"), body: f.get("body"),
        scope: f.get("scope"), requires_ack: f.get("requires_ack") === "1" });
      toast("sent");
      form.reset();
      refresh(root);
    } catch (err) { clear(out).append(errorBox(err)); }
  });
  const inbox = d.inbox.map((m) => {
    const mine = m.acks.some((a) => a.recipient_session_id === d.session_id || a.recipient_agent_id === d.agent_id);
    return el("tr", { "data-id": m.msg_id },
      el("td", {}, `${m.from_agent} (${m.from_session.slice(0, 8)})`),
      el("td", {}, m.body), el("td", {}, m.scope), el("td", {}, age(m.created_at)),
      el("td.ack-state", {}, ackState(m)),
      el("td", {}, mine || m.expired ? null : el("button", { type: "button", class: "ack", onclick: async () => {
        try { await post(`/api/messages/${m.msg_id}/ack`); toast("acked"); refresh(root); } catch (err) { toast(err.message); }
      } }, "Ack")));
  });
  const sent = d.sent.map((m) => el("tr", { "data-id": m.msg_id },
    el("td", {}, `${m.to_kind} ${m.to_id}`), el("td", {}, m.body), el("td", {}, m.scope),
    el("td", {}, age(m.created_at)), el("td.delivery", {}, m.delivery), el("td.ack-state", {}, ackState(m))));
  const who = d.who.map((s) => el("tr", {}, el("td", {}, String(s.agent_id || "")), el("td", {}, String(s.agent_family || "")),
    el("td", {}, String(s.session_id || "").slice(0, 12)), el("td", {}, s.host)));
  root.append(
    el("h2", {}, "Messages"),
    el("p.dim", {}, `this dashboard: agent ${d.agent_id}, session ${d.session_id.slice(0, 12)} · ${d.queued_note}`),
    form, out,
    el("h3", {}, `Inbox (${d.inbox.length})`),
    d.inbox.length ? table(["from", "message", "scope", "sent", "ack", ""], inbox, "inbox") : el("p.dim", { id: "inbox" }, "no messages"),
    el("h3", {}, `Sent (${d.sent.length})`),
    d.sent.length ? table(["to", "message", "scope", "sent", "delivery", "ack"], sent, "sent") : el("p.dim", { id: "sent" }, "nothing sent"),
    el("h3", {}, `Online (${d.who.length})`),
    d.who.length ? table(["agent", "family", "session", "where"], who, "who") : el("p.dim", { id: "who" }, "no agent session online"));
}

function refresh(root) {
  clear(root);
  renderMessages(root);
}
