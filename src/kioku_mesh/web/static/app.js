// The page's router and its live connection (server-sent events).
import { renderActivity } from "./activity.js";
import { clear, toast } from "./dom.js";
import { renderMemory, renderNew, renderSearch, runSearch, setSearchParams } from "./memories.js";
import { renderMesh } from "./mesh.js";
import { renderMessages } from "./messages.js";

const main = () => document.getElementById("main");

function route() {
  const hash = location.hash || "#/memories";
  const [path, query] = hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean);
  const page = parts[0] || "memories";
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", a.dataset.page === page || (page === "memory" && a.dataset.page === "memories"));
  }
  // Each render gets a fresh container: a slower render still running (a live
  // update racing a click) then fills a detached node, never the page twice.
  const root = document.createElement("div");
  clear(main()).append(root);
  main().dataset.page = page;
  if (page === "memory" && parts[1]) return renderMemory(root, parts[1]);
  if (page === "new") return renderNew(root, query);
  if (page === "messages") return renderMessages(root);
  if (page === "mesh") return renderMesh(root);
  if (page === "activity") return renderActivity(root);
  setSearchParams(query);
  return renderSearch(root);
}

// What each page shows again when the store says something changed.
const REFRESH = {
  memories: { memories: () => runSearch() },
  memory: { memories: route },
  messages: { messages: route },
  mesh: { mesh: route, memories: route },
  activity: { memories: route },
};

function live() {
  const badge = document.getElementById("live");
  const source = new EventSource("/api/events");
  const on = (yes) => { badge.textContent = yes ? "live" : "offline"; badge.className = `live ${yes ? "on" : "off"}`; };
  source.addEventListener("hello", () => on(true));
  source.addEventListener("error", () => on(false));
  for (const kind of ["memories", "messages", "mesh"]) {
    source.addEventListener(kind, () => {
      const page = main().dataset.page;
      const act = (REFRESH[page] || {})[kind];
      if (act) act();
      else if (kind === "messages") toast("new message activity");
    });
  }
}

window.addEventListener("hashchange", route);
route();
live();
