// The chat pages' one script (an ES module, no build step): the live stream socket and the actions.
//
// Every action goes through the REST API (/api/chat/v1/...) with the session cookie and the CSRF
// token. Every piece of user data enters the DOM through textContent or attributes, never innerHTML.
// The rendering rules mirror web/presenters.py (system texts, previews, reaction chips).

const configNode = document.getElementById("chat-config");
const config = configNode ? JSON.parse(configNode.textContent) : null;
const ME = config ? String(config.me) : "";

// --- small helpers --------------------------------------------------------------------------------

function uuid4() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const clientId = (() => {
  const key = "chat.client_id";
  let id = null;
  try { id = sessionStorage.getItem(key); } catch { /* storage disabled */ }
  if (!id) {
    id = `web-${uuid4()}`;
    try { sessionStorage.setItem(key, id); } catch { /* storage disabled */ }
  }
  return id;
})();

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

function $(selector, root = document) { return root.querySelector(selector); }
function $all(selector, root = document) { return Array.from(root.querySelectorAll(selector)); }
function role(el, name) { return el.querySelector(`[data-role="${name}"]`); }
function setText(el, text) { if (el) el.textContent = text == null ? "" : String(text); }
function cloneTemplate(id) { return document.getElementById(id).content.firstElementChild.cloneNode(true); }
function timeValue(iso) { const t = Date.parse(iso || ""); return Number.isNaN(t) ? 0 : t; }
function roomUrl(id) { return config.room_url.replace("{id}", encodeURIComponent(id)); }

function formatTime(iso) {
  const t = timeValue(iso);
  if (!t) return "";
  const d = new Date(t);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) {
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  return d.toLocaleDateString([], { month: "short", day: "numeric" });
}

function renderTimes(root = document) {
  for (const el of $all("time[datetime]", root)) setText(el, formatTime(el.getAttribute("datetime")));
}

let flashTimer = null;
function flash(message) {
  const el = $("#flash");
  if (!el) return;
  setText(el, message);
  el.hidden = !message;
  clearTimeout(flashTimer);
  if (message) flashTimer = setTimeout(() => { el.hidden = true; }, 6000);
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || (status ? `Request failed (HTTP ${status})` : "Network error"));
    this.status = status;
    this.code = (body && body.code) || (status ? "http_error" : "network_error");
    this.details = body && body.details;
  }
}

/** Calls the chat REST API with the session cookie; JSON in, JSON out; throws ApiError. */
// One navigation per page: a click that leaves a room and the stream's room_leave (or a refresh that
// finds the room gone) would otherwise start two, and the second aborts the first.
let navigatingTo = null;
function navigate(url) {
  if (navigatingTo !== null) return;
  navigatingTo = url;
  window.location.assign(url);
}

async function api(method, path, body) {
  const headers = { Accept: "application/json", "X-Client-Id": clientId };
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(config.api + path, init);
  } catch {
    throw new ApiError(0, null);
  }
  const raw = await res.text();
  let data = null;
  if (raw) { try { data = JSON.parse(raw); } catch { data = null; } }
  if (res.status === 401 || (res.status === 403 && data && data.code === "not_authenticated")) {
    navigate(`${config.login_url}?next=${encodeURIComponent(location.pathname)}`);
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

function errorText(err) {
  if (!(err instanceof ApiError)) return String(err && err.message ? err.message : err);
  if (err.details && typeof err.details === "object") {
    const parts = [];
    for (const [field, msgs] of Object.entries(err.details)) {
      parts.push(`${field}: ${Array.isArray(msgs) ? msgs.join(" ") : String(msgs)}`);
    }
    if (parts.length) return `${err.message} (${parts.join("; ")})`;
  }
  return err.message;
}

// --- rendering rules shared with web/presenters.py ------------------------------------

const SYSTEM_TEXTS = {
  new_member: "joined the group",
  remove_member: "left the group",
  new_name: "renamed the group",
  new_photo: "changed the group photo",
};

function systemText(m) {
  if (m.text) return m.text;
  const action = SYSTEM_TEXTS[m.event || ""] || "updated the group";
  const who = ((m.sender && m.sender.name) || "").trim();
  return who ? `${who} ${action}` : action[0].toUpperCase() + action.slice(1);
}

function bodyText(m) {
  if (m.is_deleted) return "This message was deleted";
  if (m.type === "system_message") return systemText(m);
  if (m.text) return m.text;
  if (m.file) return "📎 File";
  if (m.location_name) return `📍 ${m.location_name}`;
  if (m.contact_name) return `👤 ${m.contact_name}`;
  return "";
}

function previewOf(m, roomType) {
  if (!m) return "";
  const body = bodyText(m);
  if (m.is_deleted || m.type === "system_message") return body;
  const sender = m.sender || {};
  if (String(sender.id) === ME) return `You: ${body}`;
  if (roomType !== "p2p" && sender.name) return `${sender.name}: ${body}`;
  return body;
}

function reactionSummary(m) {
  const groups = new Map();
  for (const r of m.reactions || []) {
    if (!r.reaction) continue;
    const g = groups.get(r.reaction) || { reaction: r.reaction, count: 0, mine: false };
    g.count += 1;
    if (r.user && String(r.user.id) === ME) g.mine = true;
    groups.set(r.reaction, g);
  }
  return Array.from(groups.values());
}

// --- the live stream --------------------------------------------------------------------------------

const STATUS_TEXT = {
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  offline: "You are offline. Reconnecting when the network is back…",
  closed: "Live updates are not available for this room.",
  live: "",
};

/**
 * The WebSocket of /ws/chat/v1/stream. Reconnects with exponential back-off and the last cursor
 * (the server replays what was missed), drops duplicate events by event_id, and shows its state.
 */
class Stream {
  constructor({ roomId = "", onEvent, onResync }) {
    this.roomId = roomId;
    this.onEvent = onEvent;
    this.onResync = onResync || (() => {});
    this.cursor = "";
    this.socket = null;
    this.attempt = 0;
    this.everLive = false;
    this.reconnectTimer = null;
    this.watchdogTimer = null;
    this.seen = new Set();
    this.seenOrder = [];
    this.stopped = false;
    this.status = "";
  }

  start() {
    window.addEventListener("offline", () => this.drop("offline"));
    window.addEventListener("online", () => this.reconnectNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && !this.socket) this.reconnectNow();
    });
    this.connect();
  }

  url() {
    const u = new URL(config.ws_path, window.location.href);
    u.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    u.searchParams.set("client_id", clientId);
    if (this.roomId) u.searchParams.set("room_id", this.roomId);
    if (this.cursor) u.searchParams.set("cursor", this.cursor);
    return u.toString();
  }

  setStatus(state) {
    this.status = state;
    const el = $("#conn-status");
    if (!el) return;
    el.dataset.state = state;
    setText(el, STATUS_TEXT[state] || "");
    el.hidden = state === "live";
    document.body.dataset.connection = state;
  }

  connect() {
    clearTimeout(this.reconnectTimer);
    if (this.stopped) return;
    if (navigator.onLine === false) { this.setStatus("offline"); return; }
    this.setStatus(this.everLive ? "reconnecting" : "connecting");
    // Without a cursor the server streams from now on: what happened between the page's render
    // (or the last socket) and this connection is fetched through the REST API once it is live.
    this.catchUp = !this.cursor;
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = ws;
    ws.onmessage = (e) => { if (this.socket === ws) this.receive(e.data); };
    ws.onclose = (e) => {
      if (this.socket !== ws) return;
      this.socket = null;
      clearTimeout(this.watchdogTimer);
      if (e.code === 4001) { navigate(config.login_url); return; }
      if (e.code === 4003) { this.stopped = true; this.setStatus("closed"); return; }
      this.scheduleReconnect();
    };
    this.kickWatchdog();
  }

  /** Closes the socket at once (the browser went offline, or the heartbeat stopped). */
  drop(state = "reconnecting") {
    const ws = this.socket;
    this.socket = null;
    clearTimeout(this.watchdogTimer);
    if (ws) { try { ws.close(1000, "client reconnects"); } catch { /* already closing */ } }
    if (state === "offline") { clearTimeout(this.reconnectTimer); this.setStatus("offline"); return; }
    this.scheduleReconnect();
  }

  reconnectNow() {
    if (this.stopped) return;
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) return;
    this.attempt = 0;
    this.connect();
  }

  scheduleReconnect() {
    if (this.stopped) return;
    clearTimeout(this.reconnectTimer);
    if (navigator.onLine === false) { this.setStatus("offline"); return; }
    this.setStatus("reconnecting");
    const base = Math.min(15000, 500 * 2 ** this.attempt);
    this.attempt += 1;
    const delay = base / 2 + Math.random() * (base / 2);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  kickWatchdog() {
    clearTimeout(this.watchdogTimer);
    const limit = Math.max(5, (config.heartbeat_seconds || 15) * 2.5) * 1000;
    this.watchdogTimer = setTimeout(() => this.drop("reconnecting"), limit);
  }

  send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  remember(eventId) {
    this.seen.add(eventId);
    this.seenOrder.push(eventId);
    if (this.seenOrder.length > 5000) this.seen.delete(this.seenOrder.shift());
  }

  receive(raw) {
    this.kickWatchdog();
    let frame;
    try { frame = JSON.parse(raw); } catch { return; }
    if (!frame || typeof frame !== "object") return;
    if (frame.connected) {
      if (frame.cursor && !this.cursor) this.cursor = frame.cursor;
      const wasLive = this.status === "live";
      this.attempt = 0;
      this.setStatus("live");
      if (!wasLive && this.catchUp) {
        this.catchUp = false;
        this.onResync(this.everLive ? "reconnected" : "initial");
      }
      this.everLive = true;
      return;
    }
    if (frame.error) {
      if (frame.error.code === "resync_required") {
        this.cursor = "";
        this.onResync("resync_required");
      } else {
        console.warn("chat stream error", frame.error);
      }
      return;
    }
    if (frame.cursor) this.cursor = frame.cursor;
    if (frame.event_id) {
      if (this.seen.has(frame.event_id)) return;
      this.remember(frame.event_id);
    }
    try {
      this.onEvent(frame);
    } catch (err) {
      console.error("chat: event handler failed", err, frame);
    }
  }
}

// --- page: room list ----------------------------------------------------------------------------------

function initRoomList() {
  const list = $("#room-list");
  const empty = $("#room-list-empty");
  const searching = Boolean(config.search);
  const refreshing = new Map();

  const find = (id) => list.querySelector(`.room-item[data-room-id="${CSS.escape(id)}"]`);

  function sortKey(el) {
    return [el.dataset.pinned === "1" ? 1 : 0, timeValue(el.dataset.lastAt), timeValue(el.dataset.createdAt)];
  }

  function before(a, b) {
    const ka = sortKey(a);
    const kb = sortKey(b);
    for (let i = 0; i < ka.length; i += 1) if (ka[i] !== kb[i]) return ka[i] > kb[i];
    return false;
  }

  /** Moves `el` to its place: pinned first, then newest last message, then newest room. */
  function place(el) {
    const others = $all(".room-item", list).filter((x) => x !== el);
    const next = others.find((x) => before(el, x));
    if (next) { if (el.nextElementSibling !== next) list.insertBefore(el, next); } else if (list.lastElementChild !== el) list.appendChild(el);
    empty.hidden = true;
  }

  function setUnread(el, count) {
    const badge = role(el, "unread");
    setText(badge, count);
    badge.hidden = !count;
    el.classList.toggle("has-unread", Boolean(count));
  }

  function setPreview(el, message) {
    setText(role(el, "preview"), previewOf(message, el.dataset.roomType));
    el.dataset.lastMessageId = (message && message.id) || "";
    if (message && message.created_at && timeValue(message.created_at) >= timeValue(el.dataset.lastAt)) {
      el.dataset.lastAt = message.created_at;
      role(el, "time").setAttribute("datetime", message.created_at);
      setText(role(el, "time"), formatTime(message.created_at));
    }
  }

  function fillRoom(el, room) {
    const name = room.name || (room.type === "p2p" ? "Direct chat" : "Group");
    el.dataset.roomId = room.id;
    el.dataset.roomType = room.type || "";
    el.dataset.pinned = room.is_pinned ? "1" : "0";
    el.dataset.createdAt = room.created_at || "";
    el.dataset.lastAt = room.last_message_at || "";
    el.classList.toggle("is-pinned", Boolean(room.is_pinned));
    role(el, "link").setAttribute("href", roomUrl(room.id));
    setText(role(el, "initial"), name.slice(0, 1).toUpperCase());
    setText(role(el, "name"), name);
    role(el, "pinned").hidden = !room.is_pinned;
    role(el, "muted").hidden = !room.is_muted;
    const time = role(el, "time");
    time.setAttribute("datetime", room.last_message_at || "");
    setText(time, formatTime(room.last_message_at));
    setText(role(el, "preview"), previewOf(room.last_message, room.type));
    el.dataset.lastMessageId = (room.last_message && room.last_message.id) || "";
    setUnread(el, Number(room.unread_count || 0));
  }

  function upsertRoom(room) {
    let el = find(room.id);
    if (!el) {
      if (searching) return; // a filtered list only updates the rooms it shows
      el = cloneTemplate("tpl-room-item");
    }
    fillRoom(el, room);
    place(el);
  }

  function removeRoom(id) {
    const el = find(id);
    if (el) el.remove();
    empty.hidden = Boolean(list.querySelector(".room-item"));
  }

  /** Reloads one room (GetRoom) and shows it; several calls for one room in a burst make one request. */
  function refreshRoom(id) {
    if (!id || refreshing.has(id)) return;
    refreshing.set(id, setTimeout(async () => {
      refreshing.delete(id);
      try {
        const data = await api("GET", `room/${encodeURIComponent(id)}`);
        if (data && data.room) upsertRoom(data.room);
      } catch (err) {
        if (err.status === 404) removeRoom(id);
      }
    }, 150));
  }

  async function reloadAll() {
    try {
      const params = new URLSearchParams({ page: "1", limit: "50" });
      if (config.search) params.set("search", config.search);
      const data = await api("GET", `room/list?${params}`);
      const ids = new Set();
      for (const room of data.items || []) { ids.add(room.id); upsertRoom(room); }
      for (const el of $all(".room-item", list)) if (!ids.has(el.dataset.roomId)) el.remove();
      empty.hidden = Boolean(list.querySelector(".room-item"));
    } catch (err) {
      flash(errorText(err));
    }
  }

  function onEvent(ev) {
    const id = ev.room_id || (ev.room && ev.room.id) || "";
    if (!id) return;
    const el = find(id);
    if (ev.room_join !== undefined || ev.is_room_updated !== undefined) {
      if (ev.room && ev.room.id) upsertRoom(ev.room); else refreshRoom(id);
    } else if (ev.room_leave) {
      if ((ev.room_leave.users_id || []).map(String).includes(ME)) removeRoom(id);
    } else if (ev.message) {
      if (!el) { refreshRoom(id); return; }
      const m = ev.message;
      setPreview(el, m);
      const fromOther = m.sender && String(m.sender.id) !== ME && m.type !== "system_message";
      if (fromOther) setUnread(el, Number(role(el, "unread").textContent || 0) + 1);
      place(el);
    } else if (ev.update_message) {
      if (el && el.dataset.lastMessageId === ev.update_message.id) setPreview(el, ev.update_message);
    } else if (ev.delete_message) {
      if (el) refreshRoom(id);
    } else if (ev.status_update) {
      // The user read messages (here or on another device): the unread count changed.
      if (el && String(ev.status_update.user_id) === ME && ev.status_update.status === "READ") refreshRoom(id);
    }
  }

  renderTimes(list);
  new Stream({ onEvent, onResync: reloadAll }).start();
}

// --- page: create room --------------------------------------------------------------------------------

function initCreateRoom() {
  const form = $("#create-room-form");
  const page = $(".create-page");
  const errorEl = $("#create-error");
  const hint = $("#picker-hint");
  const search = $("#user-search");
  const typeOf = () => (form.querySelector('input[name="type"]:checked') || {}).value || "p2p";

  function syncType() {
    const group = typeOf() === "group";
    page.classList.toggle("is-group", group);
    setText(hint, group ? "(pick the members)" : "(pick one)");
    const hidden = $('#user-search-form input[name="type"]');
    if (hidden) hidden.value = typeOf();
    if (!group) {
      // A direct message has exactly one partner: keep the last one picked.
      const checked = $all('input[name="participants"]:checked', form);
      checked.slice(0, -1).forEach((c) => { c.checked = false; });
    }
  }

  form.addEventListener("change", (e) => {
    if (e.target.name === "participants" && typeOf() === "p2p" && e.target.checked) {
      for (const c of $all('input[name="participants"]:checked', form)) if (c !== e.target) c.checked = false;
    }
    syncType();
  });

  // Filter the server-rendered list as the user types (the search button asks the server).
  if (search) {
    search.addEventListener("input", () => {
      const q = search.value.trim().toLowerCase();
      for (const row of $all(".user-row", form)) row.hidden = Boolean(q) && !row.dataset.userName.includes(q);
    });
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    errorEl.hidden = true;
    const type = typeOf();
    const participants = $all('input[name="participants"]:checked', form).map((c) => c.value);
    const body = { type, participants };
    if (type === "group") body.name = $("#room-name").value.trim();
    if (!participants.length) { setText(errorEl, "Pick at least one person."); errorEl.hidden = false; return; }
    if (type === "group" && !body.name) { setText(errorEl, "A group needs a name."); errorEl.hidden = false; return; }
    const button = $("#create-submit");
    button.disabled = true;
    try {
      const data = await api("POST", "room/create", body);
      navigate(roomUrl(data.room.id));
    } catch (err) {
      setText(errorEl, errorText(err));
      errorEl.hidden = false;
      button.disabled = false;
    }
  });

  syncType();
}

// --- page: room ---------------------------------------------------------------------------------------

const STATUS_RANK = { ERROR: 0, SENDING: 0, SENT: 1, DELIVERED: 2, READ: 3 };
const MARKS = { SENDING: "…", SENT: "✓", DELIVERED: "✓", READ: "✓✓", ERROR: "⚠ retry" };
const REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏"];
const TYPING_IDLE_MS = 4000;
const TYPING_REPEAT_MS = 3000;
const TYPING_SHOW_MS = 6000;

function initRoom() {
  const room = config.room;
  const roomId = room.id;
  const pageSize = config.page_size || 30;
  const list = $("#messages");
  const scroller = $("#messages-scroll");
  const emptyNote = $("#messages-empty");
  const textarea = $("#composer-text");
  const typingEl = $("#typing");
  const pending = new Map(); // sender_message_id -> text, for retries
  const typers = new Map(); // user id -> {name, timer}
  let stream = null;

  // ----- messages -----

  const byId = (id) => (id ? list.querySelector(`.msg[data-message-id="${CSS.escape(id)}"]`) : null);
  const bySenderMessageId = (smid) => (smid ? list.querySelector(`.msg.is-own[data-sender-message-id="${CSS.escape(smid)}"]`) : null);
  const nearBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  const scrollToBottom = () => { scroller.scrollTop = scroller.scrollHeight; };

  function renderMark(el) {
    const status = el.dataset.status || "SENT";
    const mark = role(el, "mark");
    setText(mark, MARKS[status] || "");
    mark.setAttribute("title", status === "READ" ? "Read" : status === "ERROR" ? "Not sent: click to retry" : status.toLowerCase());
  }

  function setStatus(el, status, { force = false } = {}) {
    const current = el.dataset.status || "";
    if (!force && current && (STATUS_RANK[status] ?? 1) < (STATUS_RANK[current] ?? 1)) return;
    el.dataset.status = status;
    renderMark(el);
  }

  function renderReactions(el, m) {
    const box = role(el, "reactions");
    box.replaceChildren();
    for (const r of reactionSummary(m)) {
      const chip = document.createElement("button");
      chip.type = "button";
      chip.className = `chip${r.mine ? " is-mine" : ""}`;
      chip.dataset.action = "react";
      chip.dataset.reaction = r.reaction;
      chip.setAttribute("aria-pressed", r.mine ? "true" : "false");
      const emoji = document.createElement("span");
      emoji.dataset.role = "emoji";
      emoji.textContent = r.reaction;
      const count = document.createElement("span");
      count.dataset.role = "count";
      count.textContent = String(r.count);
      chip.append(emoji, " ", count);
      box.appendChild(chip);
    }
  }

  function fillMessage(el, m, { keepStatus = false } = {}) {
    const sender = m.sender || {};
    const own = String(sender.id || "") === ME;
    el.classList.toggle("is-own", own);
    el.classList.toggle("is-system", m.type === "system_message");
    el.classList.toggle("is-deleted", Boolean(m.is_deleted));
    el.dataset.messageId = m.id || "";
    el.dataset.senderId = String(sender.id || "");
    el.dataset.createdAt = m.created_at || el.dataset.createdAt || "";
    el.dataset.senderMessageId = m.sender_message_id || "";
    setText(role(el, "sender"), sender.name || "");
    if (!el.querySelector(".msg-editor")) setText(role(el, "text"), bodyText(m));
    role(el, "edited").hidden = !m.edited || Boolean(m.is_deleted);
    const time = role(el, "time");
    time.setAttribute("datetime", el.dataset.createdAt);
    setText(time, formatTime(el.dataset.createdAt));
    if (m.reactions !== undefined) renderReactions(el, m);
    // update_message carries the status as its author saw it: keep the one this page knows.
    if (!keepStatus || !el.dataset.status) {
      setStatus(el, m.status || "SENT", { force: m.status === "SENDING" || m.status === "ERROR" });
    }
  }

  /** Inserts `el` among the messages by creation time (oldest at the top). */
  function place(el) {
    const t = timeValue(el.dataset.createdAt);
    const items = $all(".msg", list).filter((x) => x !== el);
    let after = null;
    for (let i = items.length - 1; i >= 0; i -= 1) {
      if (timeValue(items[i].dataset.createdAt) <= t) { after = items[i]; break; }
    }
    if (after) after.after(el); else list.prepend(el);
    emptyNote.hidden = true;
  }

  /** Shows a message once, whatever the number of times it arrives (POST answer, socket, replay, history). */
  function upsertMessage(m, { keepStatus = false } = {}) {
    let el = byId(m.id);
    let isNew = false;
    if (!el && m.sender && String(m.sender.id) === ME) el = bySenderMessageId(m.sender_message_id);
    if (!el) { el = cloneTemplate("tpl-message"); isNew = true; }
    const stick = nearBottom();
    const oldTime = el.dataset.createdAt;
    fillMessage(el, m, { keepStatus: keepStatus && !isNew });
    if (isNew || oldTime !== el.dataset.createdAt) place(el);
    if (m.id && m.sender_message_id && m.status !== "SENDING") pending.delete(m.sender_message_id);
    if (isNew && (stick || String((m.sender || {}).id) === ME)) scrollToBottom();
    return el;
  }

  function markDeleted(id) {
    const el = byId(id);
    if (!el) return;
    el.classList.add("is-deleted");
    setText(role(el, "text"), bodyText({ is_deleted: true }));
    role(el, "edited").hidden = true;
    role(el, "reactions").replaceChildren();
  }

  async function refreshMessage(id) {
    try {
      const m = await api("GET", `message/${encodeURIComponent(id)}`);
      if (m && m.id) upsertMessage(m, { keepStatus: true });
    } catch (err) {
      if (err.status !== 404) flash(errorText(err));
    }
  }

  // ----- history -----

  const loadOlderButton = $("#load-older");
  async function loadOlder() {
    const oldest = list.querySelector(".msg[data-message-id]:not([data-message-id=''])");
    const params = new URLSearchParams({ limit: String(pageSize) });
    if (oldest) params.set("before_message_id", oldest.dataset.messageId);
    loadOlderButton.disabled = true;
    try {
      const data = await api("GET", `history/${encodeURIComponent(roomId)}?${params}`);
      const items = data.items || [];
      const fromBottom = scroller.scrollHeight - scroller.scrollTop;
      for (const m of items) if (!byId(m.id)) place(fillAndReturn(m));
      scroller.scrollTop = scroller.scrollHeight - fromBottom;
      loadOlderButton.hidden = items.length < pageSize;
    } catch (err) {
      flash(errorText(err));
    } finally {
      loadOlderButton.disabled = false;
    }
  }

  function fillAndReturn(m) {
    const el = cloneTemplate("tpl-message");
    fillMessage(el, m);
    return el;
  }

  /** Catches up when the stream cannot resume from a cursor (first connection, resync_required):
   *  merges the newest history page. */
  async function resync(reason) {
    try {
      const data = await api("GET", `history/${encodeURIComponent(roomId)}?limit=${pageSize}`);
      const items = data.items || [];
      const known = items.some((m) => byId(m.id));
      if (!known && items.length >= pageSize) {
        // The gap is larger than a page: start over from the newest page.
        for (const el of $all(".msg[data-message-id]:not([data-message-id=''])", list)) el.remove();
        loadOlderButton.hidden = false;
      }
      for (const m of items.slice().reverse()) upsertMessage(m);
      scheduleMarkRead();
      if (reason !== "initial") refreshPeople();
    } catch (err) {
      flash(errorText(err));
    }
  }

  // ----- sending -----

  let sendQueue = Promise.resolve();
  async function sendText(text, smid) {
    try {
      const data = await api("POST", "send", { room_id: roomId, text, sender_message_id: smid });
      if (data && data.message) upsertMessage(data.message);
    } catch (err) {
      const el = bySenderMessageId(smid);
      if (el && (!el.dataset.messageId)) setStatus(el, "ERROR", { force: true });
      flash(errorText(err));
    }
  }

  function submitComposer() {
    const text = textarea.value;
    if (!text.trim()) return;
    textarea.value = "";
    autoGrow();
    stopTyping();
    const smid = uuid4();
    pending.set(smid, text);
    upsertMessage({
      id: "",
      room_id: roomId,
      sender: { id: ME, name: config.me_name },
      text,
      type: "user_message",
      status: "SENDING",
      created_at: new Date().toISOString(),
      sender_message_id: smid,
      reactions: [],
    });
    scrollToBottom();
    // One send at a time, in the order typed: the server orders messages as it receives them.
    sendQueue = sendQueue.then(() => sendText(text, smid));
  }

  function retry(el) {
    const smid = el.dataset.senderMessageId;
    if (!pending.has(smid)) return;
    setStatus(el, "SENDING", { force: true });
    // The same sender_message_id: the server never makes a second message of it.
    sendQueue = sendQueue.then(() => sendText(pending.get(smid), smid));
  }

  function autoGrow() {
    textarea.style.height = "auto";
    textarea.style.height = `${Math.min(textarea.scrollHeight + 2, 128)}px`;
  }

  $("#composer").addEventListener("submit", (e) => { e.preventDefault(); submitComposer(); });
  textarea.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submitComposer();
    }
  });
  textarea.addEventListener("input", () => { autoGrow(); typingTick(); });
  window.addEventListener("online", () => {
    for (const el of $all('.msg.is-own[data-status="ERROR"]', list)) retry(el);
  });

  // ----- typing -----

  let typingSentAt = 0;
  let typingIdleTimer = null;
  function typingTick() {
    const now = Date.now();
    if (!textarea.value) { stopTyping(); return; }
    if (now - typingSentAt > TYPING_REPEAT_MS) {
      if (stream.send({ typing: { room_id: roomId, is_typing: true } })) typingSentAt = now;
    }
    clearTimeout(typingIdleTimer);
    typingIdleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }
  function stopTyping() {
    clearTimeout(typingIdleTimer);
    if (typingSentAt) {
      stream.send({ typing: { room_id: roomId, is_typing: false } });
      typingSentAt = 0;
    }
  }

  function renderTyping() {
    const names = Array.from(typers.values()).map((t) => t.name || "Someone");
    if (!names.length) setText(typingEl, "");
    else if (names.length === 1) setText(typingEl, `${names[0]} is typing…`);
    else setText(typingEl, `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]} are typing…`);
  }

  function showTyping(t) {
    const uid = String(t.user_id || "");
    if (!uid || uid === ME) return;
    const old = typers.get(uid);
    if (old) clearTimeout(old.timer);
    if (!t.is_typing) { typers.delete(uid); renderTyping(); return; }
    const name = people.get(uid) || (old && old.name) || "Someone";
    typers.set(uid, { name, timer: setTimeout(() => { typers.delete(uid); renderTyping(); }, TYPING_SHOW_MS) });
    renderTyping();
  }

  // ----- read state -----

  let markTimer = null;
  let markInFlight = false;
  function scheduleMarkRead() {
    clearTimeout(markTimer);
    markTimer = setTimeout(markRead, 200);
  }
  async function markRead() {
    if (document.visibilityState !== "visible" || markInFlight) return;
    const unread = $all('.msg:not(.is-own):not(.is-system):not(.is-deleted)[data-status="SENT"]', list)
      .filter((el) => el.dataset.messageId);
    if (!unread.length) return;
    const newest = unread[unread.length - 1];
    markInFlight = true;
    try {
      // MarkMessagesAsRead marks every older unread message too: one id is enough.
      await api("POST", "mark_as_read", { room_id: roomId, message_ids: [newest.dataset.messageId] });
      for (const el of unread) setStatus(el, "READ");
    } catch (err) {
      if (err.status !== 404) console.warn("mark_as_read failed", err);
    } finally {
      markInFlight = false;
    }
    if ($all('.msg:not(.is-own):not(.is-system):not(.is-deleted)[data-status="SENT"]', list).some((el) => el.dataset.messageId)) {
      scheduleMarkRead();
    }
  }
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") scheduleMarkRead(); });
  window.addEventListener("focus", scheduleMarkRead);

  function applyStatus(su) {
    const el = byId(su.message_id);
    if (String(su.user_id) === ME) {
      if (el && !el.classList.contains("is-own")) setStatus(el, su.status);
      return;
    }
    if (!el || !el.classList.contains("is-own")) return;
    setStatus(el, su.status);
    if (su.status === "READ") {
      // Reading a message marks every older one read: so are my older messages.
      const t = timeValue(el.dataset.createdAt);
      for (const own of $all(".msg.is-own", list)) {
        if (own.dataset.messageId && timeValue(own.dataset.createdAt) <= t) setStatus(own, "READ");
      }
    }
  }

  // ----- message actions: react, edit, delete -----

  function closeMenus(except) {
    for (const menu of $all(".react-menu", list)) if (menu !== except) menu.remove();
  }

  async function react(el, reaction) {
    const mine = el.querySelector(".chip.is-mine");
    const value = mine && mine.dataset.reaction === reaction ? "" : reaction;
    try {
      await api("POST", "react", { message_id: el.dataset.messageId, reaction: value });
      await refreshMessage(el.dataset.messageId);
    } catch (err) {
      flash(errorText(err));
    }
  }

  function openReactMenu(el, anchor) {
    const existing = el.querySelector(".react-menu");
    closeMenus(existing);
    if (existing) { existing.remove(); return; }
    const menu = document.createElement("span");
    menu.className = "react-menu";
    menu.setAttribute("role", "menu");
    for (const emoji of REACTIONS) {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.action = "react";
      b.dataset.reaction = emoji;
      b.setAttribute("role", "menuitem");
      b.textContent = emoji;
      menu.appendChild(b);
    }
    anchor.after(menu);
  }

  function startEdit(el) {
    if (el.querySelector(".msg-editor")) return;
    const textEl = role(el, "text");
    const original = textEl.textContent;
    const editor = document.createElement("div");
    editor.className = "msg-editor";
    const input = document.createElement("textarea");
    input.value = original;
    input.rows = Math.min(6, original.split("\n").length + 1);
    input.setAttribute("aria-label", "Edit message");
    const buttons = document.createElement("div");
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = "Cancel";
    const save = document.createElement("button");
    save.type = "button";
    save.className = "primary";
    save.textContent = "Save";
    buttons.append(cancel, save);
    editor.append(input, buttons);
    textEl.hidden = true;
    textEl.after(editor);
    input.focus();

    const close = () => { editor.remove(); textEl.hidden = false; };
    const commit = async () => {
      const text = input.value;
      if (!text.trim() || text === original) { close(); return; }
      save.disabled = true;
      try {
        const data = await api("POST", "edit", { message_id: el.dataset.messageId, new_text: text });
        close();
        if (data && data.message) upsertMessage(data.message);
      } catch (err) {
        save.disabled = false;
        flash(errorText(err));
      }
    };
    cancel.addEventListener("click", close);
    save.addEventListener("click", commit);
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); commit(); }
      if (e.key === "Escape") close();
    });
  }

  async function deleteMessage(el, button) {
    // Two clicks: the first arms the button (no blocking confirm() dialog).
    if (!button.classList.contains("is-armed")) {
      button.classList.add("is-armed");
      button.setAttribute("aria-label", "Click again to delete");
      button.title = "Click again to delete";
      setTimeout(() => { button.classList.remove("is-armed"); button.title = "Delete"; }, 3000);
      return;
    }
    try {
      await api("POST", "delete", { room_id: roomId, message_ids: [el.dataset.messageId] });
      markDeleted(el.dataset.messageId);
    } catch (err) {
      flash(errorText(err));
    }
  }

  list.addEventListener("click", (e) => {
    const el = e.target.closest(".msg");
    if (!el) return;
    if (e.target.closest('[data-role="mark"]') && el.dataset.status === "ERROR") { retry(el); return; }
    const button = e.target.closest("button[data-action]");
    if (!button || !el.dataset.messageId) return;
    const action = button.dataset.action;
    if (action === "react-menu") openReactMenu(el, button);
    else if (action === "react") { closeMenus(); react(el, button.dataset.reaction); }
    else if (action === "edit") startEdit(el);
    else if (action === "delete") deleteMessage(el, button);
  });

  loadOlderButton.addEventListener("click", loadOlder);

  // ----- room header: pin, mute, block, leave -----

  function setToggle(button, pressed, onLabel, offLabel) {
    if (!button) return;
    button.setAttribute("aria-pressed", pressed ? "true" : "false");
    const label = button.querySelector(".label") || button;
    setText(label, pressed ? onLabel : offLabel);
  }

  function applyRoom(r) {
    if (!r || r.id !== roomId) return;
    if (r.name) { setText($("#room-title"), r.name); document.title = `${r.name} · Chat`; }
    room.is_muted = Boolean(r.is_muted);
    room.is_pinned = Boolean(r.is_pinned);
    setToggle($("#btn-mute"), room.is_muted, "Unmute", "Mute");
    setToggle($("#btn-pin"), room.is_pinned, "Unpin", "Pin");
  }

  async function toggle(path, key, button, onLabel, offLabel) {
    button.disabled = true;
    try {
      await api("POST", path, { id: roomId });
      room[key] = !room[key];
      setToggle(button, room[key], onLabel, offLabel);
    } catch (err) {
      flash(errorText(err));
    } finally {
      button.disabled = false;
    }
  }

  $("#btn-pin").addEventListener("click", (e) => toggle("room/pin", "is_pinned", e.currentTarget, "Unpin", "Pin"));
  $("#btn-mute").addEventListener("click", (e) => toggle("room/mute", "is_muted", e.currentTarget, "Unmute", "Mute"));
  const blockButton = $("#btn-block");
  if (blockButton) {
    blockButton.addEventListener("click", (e) => toggle("room/block", "is_partner_blocked", e.currentTarget, "Unblock", "Block"));
  }

  async function leave(button) {
    if (!button.classList.contains("is-armed")) {
      button.classList.add("is-armed");
      const label = button.textContent;
      button.textContent = "Click again to confirm";
      setTimeout(() => { button.classList.remove("is-armed"); button.textContent = label; }, 3000);
      return;
    }
    try {
      await api("POST", "room/leave", { id: roomId, participants: [] });
      navigate(config.rooms_url);
    } catch (err) {
      flash(errorText(err));
    }
  }
  $("#btn-leave").addEventListener("click", (e) => leave(e.currentTarget));

  // ----- participants panel -----

  const people = new Map(); // user id -> name (typing indicator, add-member filter)
  const panel = $("#people-panel");
  const peopleButton = $("#btn-people");
  const peopleList = $("#people-list");

  function renderPeople(items) {
    peopleList.replaceChildren();
    people.clear();
    for (const p of items) {
      const uid = String(p.id);
      people.set(uid, p.name || "");
      const li = cloneTemplate("tpl-person");
      li.dataset.userId = uid;
      setText(role(li, "initial"), (p.name || "?").slice(0, 1).toUpperCase());
      setText(role(li, "name"), uid === ME ? `${p.name} (you)` : p.name);
      setText(role(li, "role"), p.role ? p.role.toLowerCase() : "");
      const remove = li.querySelector('[data-action="remove"]');
      remove.hidden = !(room.can_remove && uid !== ME && p.role !== "OWNER");
      peopleList.appendChild(li);
    }
    // Whoever is a member now is no longer someone to add.
    for (const row of $all("#add-member-results .user-row")) if (people.has(row.dataset.userId)) row.remove();
  }

  async function refreshPeople() {
    try {
      const data = await api("GET", `room/${encodeURIComponent(roomId)}/participants?limit=100`);
      renderPeople(data.participants || data.items || []);
    } catch (err) {
      if (err.status === 404) { navigate(config.rooms_url); return; }
      console.warn("participants failed", err);
    }
  }

  function setPanel(open) {
    panel.hidden = !open;
    peopleButton.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) refreshPeople();
  }
  peopleButton.addEventListener("click", () => setPanel(panel.hidden));
  $("#people-close").addEventListener("click", () => setPanel(false));

  peopleList.addEventListener("click", async (e) => {
    const button = e.target.closest('button[data-action="remove"]');
    if (!button) return;
    const li = button.closest(".person");
    button.disabled = true;
    try {
      await api("POST", "room/leave", { id: roomId, participants: [li.dataset.userId] });
      await refreshPeople();
    } catch (err) {
      button.disabled = false;
      flash(errorText(err));
    }
  });

  const addForm = $("#add-member-form");
  if (addForm) {
    const q = $("#add-member-q");
    const results = $("#add-member-results");
    let searchTimer = null;
    const search = async () => {
      try {
        const res = await fetch(`${config.users_url}?${new URLSearchParams({ q: q.value.trim() })}`, {
          credentials: "same-origin", headers: { Accept: "application/json" },
        });
        const data = await res.json();
        results.replaceChildren();
        for (const u of data.items || []) {
          if (people.has(String(u.id))) continue;
          const li = cloneTemplate("tpl-pick-user");
          li.dataset.userId = String(u.id);
          setText(role(li, "initial"), (u.name || "?").slice(0, 1).toUpperCase());
          setText(role(li, "name"), u.name);
          setText(role(li, "username"), `@${u.username}`);
          results.appendChild(li);
        }
      } catch (err) {
        flash(errorText(err));
      }
    };
    addForm.addEventListener("submit", (e) => { e.preventDefault(); search(); });
    q.addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(search, 250); });
    q.addEventListener("focus", () => { if (!results.childElementCount) search(); });
    results.addEventListener("click", async (e) => {
      const button = e.target.closest('button[data-action="add"]');
      if (!button) return;
      const li = button.closest(".user-row");
      button.disabled = true;
      try {
        await api("POST", "room/participant/add", { id: roomId, participants: [li.dataset.userId] });
        li.remove();
        await refreshPeople();
      } catch (err) {
        button.disabled = false;
        flash(errorText(err));
      }
    });
  }

  // ----- the stream -----

  function onEvent(ev) {
    if (ev.room_id && ev.room_id !== roomId) return; // direct events about other rooms
    if (ev.message) {
      upsertMessage(ev.message);
      const from = ev.message.sender ? String(ev.message.sender.id) : "";
      if (from && from !== ME) {
        const t = typers.get(from);
        if (t) { clearTimeout(t.timer); typers.delete(from); renderTyping(); }
        scheduleMarkRead();
      }
    } else if (ev.update_message) {
      if (byId(ev.update_message.id)) upsertMessage(ev.update_message, { keepStatus: true });
    } else if (ev.delete_message) {
      markDeleted(ev.delete_message);
    } else if (ev.status_update) {
      applyStatus(ev.status_update);
    } else if (ev.typing) {
      showTyping(ev.typing);
    } else if (ev.room_leave) {
      if ((ev.room_leave.users_id || []).map(String).includes(ME)) { navigate(config.rooms_url); return; }
      refreshPeople();
    } else if (ev.room_join !== undefined || ev.is_room_updated !== undefined) {
      if (ev.room) applyRoom(ev.room);
      refreshPeople();
    }
  }

  for (const el of $all(".msg", list)) renderMark(el);
  renderTimes(list);
  scrollToBottom();
  refreshPeople();
  stream = new Stream({ roomId, onEvent, onResync: resync });
  stream.start();
  scheduleMarkRead();
  if (!textarea.disabled) textarea.focus();
}

// --- start ----------------------------------------------------------------------------------------------

if (config) {
  const page = config.page;
  if (page === "rooms") initRoomList();
  else if (page === "create") initCreateRoom();
  else if (page === "room") initRoom();
  renderTimes();
}
