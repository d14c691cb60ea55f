// Building the page: every text from the store goes in through textContent
// (never as markup), with control and bidi characters spelled out as \uXXXX
// the way the CLI shows them (kioku_mesh.core.textsafe).

const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function shown(text) {
  return String(text ?? "").replace(UNSAFE, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

// el("a.subject", {href: "#/x"}, "text", child, ...): attributes are set as
// attributes (never on* handlers from data), children are nodes or text.
export function el(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const node = document.createElement(tag);
  if (classes.length) node.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "value") node.value = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(shown(c)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export function facts(pairs) {
  const dl = el("dl.facts");
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === "") continue;
    dl.append(el("dt", {}, k), el("dd", {}, v));
  }
  return dl;
}

const CSRF = () => document.querySelector('meta[name="kioku-csrf"]').content;

export class ApiError extends Error {}

async function answer(resp) {
  const type = resp.headers.get("content-type") || "";
  const data = type.includes("json") ? await resp.json() : { error: await resp.text() };
  if (!resp.ok) throw new ApiError(data.error || `HTTP ${resp.status}`);
  return data;
}

export async function get(path, params, signal) {
  const url = params ? `${path}?${params}` : path;
  return answer(await fetch(url, { signal, credentials: "same-origin" }));
}

export async function post(path, body) {
  return answer(await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: { "content-type": "application/json", "x-kioku-csrf": CSRF() },
    body: JSON.stringify(body || {}),
  }));
}

export function age(iso) {
  const t = Date.parse(iso);
  if (!t) return "";
  return ago((Date.now() - t) / 1000);
}

export function ago(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  const s = Math.max(0, seconds);
  if (s < 60) return `${Math.floor(s)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function sinceEpoch(epoch) {
  return epoch ? ago(Date.now() / 1000 - epoch) : "never";
}

export function toast(text) {
  const t = document.getElementById("toast");
  t.textContent = shown(text);
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 3000);
}

export function errorBox(err) {
  return el("div.error", { role: "alert" }, err instanceof Error ? err.message : String(err));
}

// The confirmation dialog: resolves to {ok, reason}.
export function confirmDialog({ title, subject, facts: pairs, reason, okText }) {
  const dlg = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = shown(title);
  document.getElementById("confirm-subject").textContent = shown(subject);
  const dl = document.getElementById("confirm-facts");
  clear(dl);
  for (const [k, v] of pairs) dl.append(el("dt", {}, k), el("dd", {}, v));
  document.getElementById("confirm-reason-row").hidden = !reason;
  document.getElementById("confirm-reason").value = "";
  document.getElementById("confirm-ok").textContent = okText || "Confirm";
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => resolve({
      ok: dlg.returnValue === "ok", reason: document.getElementById("confirm-reason").value,
    }), { once: true });
    dlg.showModal();
  });
}
