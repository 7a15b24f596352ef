// The sotto web app: the API of `sotto serve` (docs/api.md) over this server's /ws, shown as a
// chat. Every text that came from the network is put in the page as text (textContent), never
// as HTML, so a contact's name or message cannot add markup or script.
"use strict";

const $ = (id) => document.getElementById(id);

// The token comes in the address's fragment, which the browser never sends anywhere. It is
// kept for this tab only and taken out of the address bar, so it does not show on screen.
function takeToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const given = fragment.get("token");
  if (given) {
    sessionStorage.setItem("sotto-token", given);
    history.replaceState(null, "", location.pathname);
  }
  return sessionStorage.getItem("sotto-token");
}

const token = takeToken();
const state = {
  contacts: new Map(), // alias -> {alias, name, unread}: unread as the device had it
  groups: new Map(), // alias -> {group, name, members, role, unread}: the `groups` command's
  // Messages pushed while their conversation was not open. The device counts them as shown
  // once pushed, so they are counted here, apart from what a refresh of the contacts brings.
  arrived: new Map(),
  open: null, // the alias of the conversation shown
  messages: [], // the open conversation, oldest first
  replyTo: null, // a message of the open conversation
  editing: null, // one of this device's messages in the open conversation
  everOpened: false,
  files: new Map(), // file id -> the device's transfer of it (the `files` command's)
  progress: new Map(), // file id -> {done, total} while it moves
  failed: new Map(), // file id -> why its transfer stopped
  uploads: new Map(), // file id -> its row under the composer, until it is offered
};
let socket = null;
let nextId = 1;
const pending = new Map(); // request id -> {resolve, reject}
let retryDelay = 500;

function call(command, args = {}) {
  return new Promise((resolve, reject) => {
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      reject(new Error("not connected"));
      return;
    }
    const id = nextId++;
    pending.set(id, { resolve, reject });
    socket.send(JSON.stringify({ id, command, ...args }));
  });
}

function showProblem(text) {
  $("problem").textContent = text;
  $("problem").hidden = !text;
}

function setStatus(online, text) {
  const status = $("status");
  status.textContent = text;
  status.className = "status " + (online ? "online" : "offline");
  for (const id of ["invite", "connect", "new-group"]) $(id).disabled = !online;
  $("send").disabled = !online || !state.open;
  $("attach").disabled = !online || !state.open;
}

function connect() {
  socket = new WebSocket(`ws://${location.host}/ws?token=${encodeURIComponent(token)}`);
  socket.onopen = async () => {
    state.everOpened = true;
    retryDelay = 500;
    showProblem("");
    $("app").hidden = false;
    setStatus(true, "online");
    await refreshContacts();
    await refreshGroups();
    if (state.open) await openConversation(state.open);
  };
  socket.onmessage = (frame) => {
    let message;
    try {
      message = JSON.parse(frame.data);
    } catch {
      return;
    }
    if (message.event) {
      onEvent(message);
      return;
    }
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    if (message.ok) waiting.resolve(message.result);
    else waiting.reject(new Error(message.error));
  };
  socket.onclose = () => {
    for (const waiting of pending.values()) waiting.reject(new Error("the connection closed"));
    pending.clear();
    if (state.everOpened) {
      showProblem("Lost the connection to sotto (is `sotto serve` running?); reconnecting…");
    } else {
      // A refused token and a stopped server look alike from here; both need the address.
      showProblem("sotto is not reachable with this address. Open the address `sotto serve --web` printed (it ends in #token=…); retrying.");
    }
    setStatus(false, "offline — reconnecting");
    setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 8000);
  };
}

function onEvent(event) {
  switch (event.event) {
    case "message":
      onMessage(event);
      break;
    case "delivered":
      if (event.to === state.open) openConversation(state.open);
      break;
    case "changed":
      if (event.conversation === state.open) openConversation(state.open);
      break;
    case "timer": {
      const contact = state.contacts.get(event.conversation);
      if (contact) contact.timer = event.seconds;
      if (event.conversation === state.open) showTimer();
      notify(`${event.conversation} changed disappearing messages`, "");
      break;
    }
    case "connected":
      refreshContacts();
      notify(`${event.alias} connected`, "");
      break;
    case "removed":
    case "rejected":
      refreshContacts();
      refreshGroups();
      break;
    case "joined_group":
      refreshGroups();
      notify(`You are in the group ${event.group}`, "");
      break;
    case "added_to_group":
      refreshGroups();
      if (event.group === state.open && $("members-dialog").open) showMembers();
      break;
    case "connection":
      if (event.state === "online") setStatus(true, "online");
      else setStatus(true, "network unreachable — retrying");
      break;
    case "progress":
      onProgress(event);
      break;
    case "done":
    case "failed":
      onTransferEnd(event);
      break;
  }
}

function onProgress(event) {
  state.progress.set(event.id, { done: event.done, total: event.total });
  const upload = state.uploads.get(event.id);
  if (upload) upload.querySelector("progress").value = event.done / Math.max(event.total, 1);
  const bar = document.querySelector(`#messages li[data-id="${event.id}"] progress`);
  if (bar) bar.value = event.done / Math.max(event.total, 1);
  else if (event.contact === state.open && !upload) renderMessages();
}

async function onTransferEnd(event) {
  state.progress.delete(event.id);
  state.uploads.get(event.id)?.remove();
  state.uploads.delete(event.id);
  if (event.event === "failed") {
    state.failed.set(event.id, event.reason);
    if (event.outgoing) showProblem(`Not sent: ${event.reason}`);
  } else {
    state.failed.delete(event.id);
  }
  await refreshFiles();
  // A file sent is a message only now, once offered.
  if (event.contact === state.open) {
    if (event.outgoing) await openConversation(state.open);
    else renderMessages();
  }
  if (event.event === "done" && !event.outgoing && document.hidden) {
    notify(`${event.contact}'s file arrived`, "");
  }
}

async function refreshFiles() {
  try {
    const { files } = await call("files");
    state.files = new Map(files.map((f) => [f.id, f]));
  } catch {
    // Shown as not fetched; the next open reads them again.
  }
}

// A group's message is the group's conversation's; its `from` is the member who wrote it.
function onMessage(message) {
  const conversation = message.group ?? message.from;
  if (conversation === state.open) {
    // A read of the conversation for an earlier event may have brought it already.
    if (!state.messages.some((m) => m.id === message.id)) state.messages.push(message);
    renderMessages();
  } else {
    state.arrived.set(conversation, (state.arrived.get(conversation) ?? 0) + 1);
    if (message.group) {
      if (state.groups.has(conversation)) renderGroups();
      else refreshGroups();
    } else if (state.contacts.has(conversation)) renderContacts();
    else refreshContacts();
  }
  const title = message.group ? `${message.from} in ${message.group}` : message.from;
  if (document.hidden || conversation !== state.open) notify(title, message.text);
}

function notify(title, body) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  new Notification(title, { body: body.slice(0, 200) });
}

async function refreshContacts() {
  let result;
  try {
    result = await call("contacts");
  } catch {
    return;
  }
  state.contacts = new Map(result.contacts.map((c) => [c.alias, c]));
  if (state.open) {
    const open = state.contacts.get(state.open);
    if (open) open.unread = 0;
  }
  renderContacts();
}

async function refreshGroups() {
  let result;
  try {
    result = await call("groups");
  } catch {
    return;
  }
  state.groups = new Map(result.groups.map((g) => [g.group, g]));
  const open = state.groups.get(state.open);
  if (open) open.unread = 0;
  renderGroups();
}

// One conversation in the sidebar: its alias, what else is said about it, its unread count.
function conversationItem(alias, title, unread, extra) {
  const item = document.createElement("li");
  item.dataset.alias = alias;
  if (alias === state.open) item.className = "open";
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = alias;
  if (title !== alias) name.title = title;
  item.append(name, ...extra);
  const unreadCount = unread + (state.arrived.get(alias) ?? 0);
  if (unreadCount > 0) {
    const count = document.createElement("span");
    count.className = "unread";
    count.textContent = unreadCount;
    item.append(count);
  }
  item.onclick = () => openConversation(alias);
  return item;
}

function renderContacts() {
  $("contacts").replaceChildren(...[...state.contacts.values()].map((contact) =>
    conversationItem(contact.alias, contact.name, contact.unread, [])));
  $("no-contacts").hidden = state.contacts.size > 0;
}

function renderGroups() {
  $("groups").replaceChildren(...[...state.groups.values()].map((group) => {
    const size = document.createElement("span");
    size.className = "size";
    size.textContent = `${group.members} 👥`;
    size.title = `${group.members} members; you are ${group.role}`;
    return conversationItem(group.group, group.name, group.unread, [size]);
  }));
}

async function openConversation(alias) {
  const switching = alias !== state.open;
  state.open = alias;
  if (switching) {
    state.replyTo = null;
    state.editing = null;
    $("search").value = "";
  }
  $("title").textContent = alias;
  $("members").hidden = !state.groups.has(alias);
  showTimer();
  $("search").disabled = false;
  $("text").disabled = false;
  $("send").disabled = !socket || socket.readyState !== WebSocket.OPEN;
  $("attach").disabled = !socket || socket.readyState !== WebSocket.OPEN;
  try {
    await call("read", { contact: alias }); // what arrived unseen is seen now
    state.messages = (await call("messages", { contact: alias })).messages;
  } catch {
    return;
  }
  await refreshFiles();
  const contact = state.contacts.get(alias) ?? state.groups.get(alias);
  if (contact) contact.unread = 0;
  state.arrived.delete(alias);
  renderContacts();
  renderGroups();
  renderReplying();
  renderMessages();
  if (switching) $("text").focus();
}

// The open conversation's disappearing timer, as the select shows it (a value set elsewhere
// that the list lacks is added to it).
function showTimer() {
  const select = $("timer");
  const seconds = String(state.contacts.get(state.open)?.timer ?? 0);
  if (![...select.options].some((o) => o.value === seconds)) {
    select.add(new Option(`go after ${seconds} s`, seconds));
  }
  select.value = seconds;
  // Disappearing messages are set per contact; a group has none yet.
  select.disabled = state.groups.has(state.open);
}

async function setTimer() {
  const contact = state.open;
  const seconds = Number($("timer").value);
  try {
    await call("timer", { contact, seconds });
    const known = state.contacts.get(contact);
    if (known) known.timer = seconds;
  } catch (error) {
    showProblem(`Timer not set: ${error.message}`);
    showTimer();
  }
}

// Under a timer, messages go while the page is open: it reads the conversation again now
// and then (from the device, not the network).
setInterval(() => {
  const open = state.contacts.get(state.open);
  if (open?.timer > 0 && socket?.readyState === WebSocket.OPEN) openConversation(state.open);
}, 5000);

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

function renderMessages() {
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren();
  const byId = new Map(state.messages.map((m) => [m.id, m]));
  for (const message of state.messages) {
    const item = document.createElement("li");
    item.dataset.id = message.id;
    if (message.outgoing) item.classList.add("mine");
    if (message.group && !message.outgoing) {
      const sender = document.createElement("span");
      sender.className = "sender";
      sender.textContent = message.from;
      item.append(sender);
    }
    if (message.reply_to) {
      const quote = document.createElement("span");
      quote.className = "quote";
      const original = byId.get(message.reply_to);
      quote.textContent = !original
        ? "(an earlier message)"
        : original.deleted ? "(deleted)" : original.text.slice(0, 120);
      item.append(quote);
    }
    if (message.file && !message.deleted) item.append(fileView(message));
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = message.deleted ? "" : message.text;
    item.append(text);
    if (message.deleted) {
      item.classList.add("deleted");
      const gone = document.createElement("span");
      gone.className = "gone";
      gone.textContent = message.outgoing ? "You deleted this message" : "This message was deleted";
      item.append(gone);
    }
    const reactions = [message.my_reaction, message.their_reaction].filter(Boolean);
    if (reactions.length > 0) {
      const shown = document.createElement("span");
      shown.className = "reactions";
      shown.textContent = reactions.join(" ");
      item.append(shown);
    }
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = clock.format(new Date(message.sent_at)) + (message.edited ? " · edited" : "");
    if (message.outgoing) {
      const mark = document.createElement("span");
      mark.className = "mark";
      mark.textContent = message.delivered ? "✓✓" : "✓";
      mark.title = message.delivered ? "delivered" : "sent";
      meta.append(mark);
    }
    if (!message.deleted) meta.append(...actions(message));
    item.append(meta);
    list.append(item);
  }
  applySearch();
  if (atBottom || !$("search").value) list.scrollTop = list.scrollHeight;
}

function humanSize(bytes) {
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

// Where this device's copy of a file is served: one it sent, or one it fetched.
function fileUrl(id) {
  return `/files/${id}?token=${encodeURIComponent(token)}`;
}

// A file message's file: its name, kind and size; a preview for an image (its thumbnail
// from the offer, then the image itself once here); a player for a voice message; and what
// can be done with it (fetch it, watch it move, save it).
function fileView(message) {
  const file = message.file;
  const box = document.createElement("div");
  box.className = "file";
  const name = document.createElement("span");
  name.className = "file-name";
  name.textContent = file.name;
  const about = document.createElement("span");
  about.className = "file-size";
  const length = file.duration_ms ? ` · ${Math.round(file.duration_ms / 1000)} s` : "";
  about.textContent = `${file.kind} · ${humanSize(file.size)}${length}`;
  box.append(name, about);
  const transfer = state.files.get(message.id);
  const here = Boolean(transfer) && (transfer.outgoing || transfer.state === "done");
  if (file.kind === "image" && (here || file.thumbnail)) {
    const image = document.createElement("img");
    image.className = "preview";
    image.alt = file.name;
    if (file.width && file.height) {
      image.width = Math.min(file.width, 320);
    }
    if (here) {
      image.src = fileUrl(message.id);
    } else {
      const type = file.thumbnail.startsWith("UklGR") ? "image/webp" : "image/jpeg";
      image.src = `data:${type};base64,${file.thumbnail}`;
      image.classList.add("thumb");
    }
    box.append(image);
  }
  if (file.kind === "voice") {
    if (Array.isArray(file.waveform) && file.waveform.length > 0) box.append(waveform(file.waveform));
    if (here) {
      const player = document.createElement("audio");
      player.controls = true;
      player.preload = "metadata";
      player.src = fileUrl(message.id);
      box.append(player);
    }
  }
  const moving = state.progress.get(message.id);
  if (moving) {
    const bar = document.createElement("progress");
    bar.value = moving.done / Math.max(moving.total, 1);
    box.append(bar);
  } else if (here && !message.outgoing) {
    const save = document.createElement("a");
    save.className = "save";
    save.href = fileUrl(message.id);
    save.download = file.name;
    save.textContent = "Save";
    box.append(save);
  } else if (!here && !message.outgoing) {
    box.append(action("Download", "download", () => download(message)));
  }
  const failed = state.failed.get(message.id);
  if (failed && !moving) {
    const why = document.createElement("span");
    why.className = "file-failed";
    why.textContent = `Stopped: ${failed}`;
    box.append(why);
  }
  return box;
}

// A voice message's loudness over time, as bars.
function waveform(levels) {
  const bars = document.createElement("span");
  bars.className = "waveform";
  const top = Math.max(...levels, 1);
  for (const level of levels.slice(0, 64)) {
    const bar = document.createElement("span");
    bar.style.height = `${Math.max(2, Math.round((level / top) * 20))}px`;
    bars.append(bar);
  }
  return bars;
}

async function download(message) {
  state.failed.delete(message.id);
  state.progress.set(message.id, { done: 0, total: message.file.size });
  renderMessages();
  try {
    await call("download", { file: message.id });
  } catch (error) {
    state.progress.delete(message.id);
    state.failed.set(message.id, error.message);
    renderMessages();
  }
}

// Sends files to the open conversation: each is streamed to sotto in an HTTP POST (a
// progress bar while it goes there), then sotto sends it on (the bar follows its progress
// events) and it shows as a message once offered.
function sendFiles(files) {
  const contact = state.open;
  if (!contact) return;
  for (const file of files) sendFile(contact, file);
}

function sendFile(contact, file) {
  const row = document.createElement("li");
  const label = document.createElement("span");
  label.textContent = `${file.name} to ${contact}`;
  const bar = document.createElement("progress");
  bar.value = 0;
  row.append(label, bar);
  $("uploads").append(row);
  const request = new XMLHttpRequest();
  const query = new URLSearchParams({ contact, name: file.name });
  request.open("POST", `/files?${query}`);
  request.setRequestHeader("Authorization", `Bearer ${token}`);
  request.upload.onprogress = (event) => {
    if (event.lengthComputable) bar.value = event.loaded / Math.max(event.total, 1);
  };
  request.onload = () => {
    if (request.status !== 200) {
      row.remove();
      showProblem(`Not sent: ${request.responseText}`);
      return;
    }
    const { id } = JSON.parse(request.responseText);
    label.textContent = `${file.name} to ${contact}: sending`;
    bar.value = 0;
    state.uploads.set(id, row);
  };
  request.onerror = () => {
    row.remove();
    showProblem(`Not sent: ${file.name} did not reach sotto`);
  };
  request.send(file);
}

const REACTIONS = ["👍", "❤️", "😂", "😮", "😢"];

function action(label, className, onclick) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "action " + className;
  button.textContent = label;
  button.onclick = onclick;
  return button;
}

// What can be done with a message: reply and react; edit and delete one's own.
function actions(message) {
  const buttons = [
    action("Reply", "reply", () => {
      state.replyTo = message;
      state.editing = null;
      renderReplying();
      $("text").focus();
    }),
  ];
  const picker = document.createElement("span");
  picker.className = "picker";
  picker.hidden = true;
  for (const emoji of REACTIONS) {
    // The same reaction again takes it back.
    const chosen = message.my_reaction === emoji;
    const button = action(emoji, chosen ? "emoji chosen" : "emoji", () =>
      change("react", message, { emoji: chosen ? "" : emoji }));
    button.dataset.emoji = emoji;
    picker.append(button);
  }
  buttons.push(action("React", "react", () => { picker.hidden = !picker.hidden; }), picker);
  if (message.outgoing) {
    buttons.push(action("Edit", "edit", () => {
      state.editing = message;
      state.replyTo = null;
      $("text").value = message.text;
      renderReplying();
      $("text").focus();
    }));
    // Deleting for everyone asks once more, in place.
    const remove = action("Delete", "delete", () => {
      if (remove.dataset.sure) change("delete", message, {});
      else {
        remove.dataset.sure = "yes";
        remove.textContent = "Delete for everyone?";
      }
    });
    buttons.push(remove);
  }
  return buttons;
}

async function change(command, message, args) {
  const contact = state.open;
  try {
    await call(command, { contact, message: message.id, ...args });
  } catch (error) {
    showProblem(`Not changed: ${error.message}`);
    return;
  }
  if (state.open === contact) await openConversation(contact);
}

// Shows only the messages holding the search text, with the text marked.
function applySearch() {
  const query = $("search").value.trim().toLowerCase();
  let found = 0;
  for (const item of $("messages").children) {
    const text = item.querySelector(".text");
    const whole = text.textContent;
    const at = query ? whole.toLowerCase().indexOf(query) : -1;
    item.classList.toggle("hidden", Boolean(query) && at < 0);
    if (at < 0) {
      text.replaceChildren(whole);
      continue;
    }
    found += 1;
    const mark = document.createElement("mark");
    mark.textContent = whole.slice(at, at + query.length);
    text.replaceChildren(whole.slice(0, at), mark, whole.slice(at + query.length));
  }
  $("found").textContent = query ? `${found} found` : "";
}

function renderReplying() {
  const about = state.editing ?? state.replyTo;
  $("replying").hidden = !about;
  $("replying-what").textContent = state.editing ? "Editing" : "Replying to";
  $("replying-text").textContent = about ? about.text.slice(0, 120) : "";
}

async function send(event) {
  event.preventDefault();
  const text = $("text").value;
  if (!text.trim() || !state.open) return;
  const contact = state.open;
  const replyTo = state.replyTo ? state.replyTo.id : undefined;
  $("send").disabled = true;
  if (state.editing) {
    const editing = state.editing;
    state.editing = null;
    $("text").value = "";
    renderReplying();
    await change("edit", editing, { text });
    $("send").disabled = !socket || socket.readyState !== WebSocket.OPEN;
    return;
  }
  try {
    const { id } = await call("send", { contact, text, reply_to: replyTo });
    $("text").value = "";
    state.replyTo = null;
    renderReplying();
    if (state.open === contact) {
      state.messages.push({
        from: contact, text, id, sent_at: Date.now(), reply_to: replyTo ?? null,
        outgoing: true, delivered: false,
      });
      renderMessages();
    }
  } catch (error) {
    showProblem(`Not sent: ${error.message}`);
  } finally {
    $("send").disabled = !socket || socket.readyState !== WebSocket.OPEN;
  }
}

async function invite() {
  try {
    const result = await call("invite");
    $("link").textContent = result.link;
    if (result.qr_svg) {
      $("qr").src = "data:image/svg+xml;base64," + btoa(result.qr_svg);
      $("qr").hidden = false;
    } else {
      $("qr").hidden = true;
    }
    $("invite-dialog").showModal();
  } catch (error) {
    showProblem(`No link made: ${error.message}`);
  }
}

async function connectWithLink(event) {
  event.preventDefault();
  const link = $("connect-link").value.trim();
  const alias = $("connect-alias").value.trim() || undefined;
  $("connect-error").hidden = true;
  try {
    const result = await call("connect", { link, alias });
    $("connect-dialog").close();
    $("connect-link").value = "";
    $("connect-alias").value = "";
    await refreshContacts();
    await openConversation(result.alias);
  } catch (error) {
    $("connect-error").textContent = error.message;
    $("connect-error").hidden = false;
  }
}

// A new group: its name, then the contacts to add (each joins once its device answered).
function newGroup() {
  $("group-name").value = "";
  $("group-error").hidden = true;
  const pick = $("group-pick");
  pick.replaceChildren(pick.querySelector("legend") ?? document.createElement("legend"));
  for (const contact of state.contacts.values()) {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = contact.alias;
    label.append(box, contact.alias);
    pick.append(label);
  }
  $("group-dialog").showModal();
}

async function createGroup(event) {
  event.preventDefault();
  const name = $("group-name").value.trim();
  const contacts = [...$("group-pick").querySelectorAll("input:checked")].map((box) => box.value);
  try {
    const { group } = await call("group_create", { name });
    if (contacts.length > 0) await call("group_add", { group, contacts });
    $("group-dialog").close();
    await refreshGroups();
    await openConversation(group);
  } catch (error) {
    $("group-error").textContent = error.message;
    $("group-error").hidden = false;
  }
}

// The open group's members with their roles, and what this device's role lets it do.
async function showMembers() {
  const group = state.open;
  const mine = state.groups.get(group);
  if (!mine) return;
  let members;
  try {
    ({ members } = await call("group_members", { group }));
  } catch (error) {
    showProblem(`No members shown: ${error.message}`);
    return;
  }
  const manages = mine.role === "owner" || mine.role === "admin";
  $("members-title").textContent = `${group}: members`;
  $("member-list").replaceChildren(...members.map((member) => memberItem(group, member, manages)));
  const inGroup = new Set(members.map((m) => m.name));
  const choices = [...state.contacts.values()].filter((c) => !inGroup.has(c.name));
  $("member-contact").replaceChildren(...choices.map((c) => new Option(c.alias, c.alias)));
  $("member-add").hidden = !manages || choices.length === 0;
  $("group-delete").hidden = mine.role !== "owner";
  if (!$("members-dialog").open) {
    $("members-error").hidden = true;
    $("members-dialog").showModal();
  }
}

const ROLES = ["owner", "admin", "member", "observer"];

function memberItem(group, member, manages) {
  const item = document.createElement("li");
  item.dataset.member = member.name;
  const name = document.createElement("span");
  name.className = "member-name";
  name.textContent = member.you ? `${member.name} (you)` : member.name;
  const role = document.createElement("select");
  role.className = "role";
  for (const each of ROLES) role.add(new Option(each, each));
  role.value = member.role;
  role.disabled = !manages || member.you;
  role.onchange = () => manage("group_role", { group, member: member.name, role: role.value });
  item.append(name, role);
  if (manages && !member.you) {
    item.append(action("Remove", "remove", () => manage("group_remove", { group, member: member.name })));
  }
  return item;
}

async function manage(command, args) {
  $("members-error").hidden = true;
  try {
    await call(command, args);
  } catch (error) {
    $("members-error").textContent = error.message;
    $("members-error").hidden = false;
  }
  await refreshGroups();
  if (state.groups.has(args.group)) await showMembers();
}

async function addMember(event) {
  event.preventDefault();
  const contact = $("member-contact").value;
  if (contact) await manage("group_add", { group: state.open, contacts: [contact] });
}

// Leaving and deleting end the conversation here; each asks once more, in place.
function endGroup(button, command, question) {
  if (!button.dataset.sure) {
    button.dataset.sure = "yes";
    button.dataset.was = button.textContent;
    button.textContent = question;
    return;
  }
  delete button.dataset.sure;
  button.textContent = button.dataset.was;
  const group = state.open;
  call(command, { group }).then(async () => {
    $("members-dialog").close();
    state.open = null;
    state.messages = [];
    $("title").textContent = "Pick a contact";
    $("members").hidden = true;
    renderMessages();
    await refreshGroups();
  }, (error) => {
    $("members-error").textContent = error.message;
    $("members-error").hidden = false;
  });
}

function start() {
  if (!token) {
    showProblem("This page needs its key: open the address `sotto serve --web` printed (it ends in #token=…).");
    setStatus(false, "no token");
    return;
  }
  $("composer").onsubmit = send;
  $("text").onkeydown = (event) => {
    if (event.key === "Enter" && !event.shiftKey) send(event);
  };
  $("cancel-reply").onclick = () => {
    if (state.editing) $("text").value = "";
    state.replyTo = null;
    state.editing = null;
    renderReplying();
  };
  $("search").oninput = applySearch;
  $("attach").onclick = () => $("file-input").click();
  $("file-input").onchange = () => {
    sendFiles([...$("file-input").files]);
    $("file-input").value = "";
  };
  const conversation = $("conversation");
  conversation.ondragover = (event) => {
    if (!state.open) return;
    event.preventDefault();
    conversation.classList.add("dropping");
  };
  conversation.ondragleave = () => conversation.classList.remove("dropping");
  conversation.ondrop = (event) => {
    event.preventDefault();
    conversation.classList.remove("dropping");
    sendFiles([...event.dataTransfer.files]);
  };
  $("timer").onchange = setTimer;
  $("invite").onclick = invite;
  $("copy").onclick = () => navigator.clipboard?.writeText($("link").textContent);
  $("connect").onclick = () => $("connect-dialog").showModal();
  $("connect-cancel").onclick = () => $("connect-dialog").close();
  $("connect-form").onsubmit = connectWithLink;
  $("new-group").onclick = newGroup;
  $("group-cancel").onclick = () => $("group-dialog").close();
  $("group-form").onsubmit = createGroup;
  $("members").onclick = showMembers;
  $("member-add").onsubmit = addMember;
  $("group-leave").onclick = () => endGroup($("group-leave"), "group_leave", "Leave: sure?");
  $("group-delete").onclick = () =>
    endGroup($("group-delete"), "group_delete", "Delete for everyone: sure?");
  if ("Notification" in window && Notification.permission === "default") {
    $("notify").hidden = false;
    $("notify").onclick = async () => {
      await Notification.requestPermission();
      $("notify").hidden = true;
    };
  }
  connect();
}

start();
