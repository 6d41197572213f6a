// The board's session. With auth on, the board acts with a client token that the person pastes
// once into the sign-in form. It hands it to POST /v1/session, which keeps it in an HttpOnly
// cookie: the browser sends it with every request and the event stream (an EventSource cannot send
// an Authorization header), and no script of any page, this one included, can read it. The board
// never writes a cookie itself and keeps no token; GET /v1/session tells it who it is signed in as.
// With auth off, GET /v1/session says so and the board starts at once.
"use strict";

async function start() {
  let response;
  try {
    response = await fetch("/v1/session", { headers: { "Content-Type": "application/json" }, credentials: "same-origin" });
  } catch {
    setLive("connecting");
    setTimeout(start, RECONNECT_MS);
    return;
  }
  if (response.status === 401) {
    showSignIn("");
    return;
  }
  const session = await response.json();
  signedIn = true;
  $("account").hidden = !session.auth;
  $("account-name").textContent = session.sub || "";
  $("sign-in").hidden = true;
  $("board").hidden = false;
  stateMachine().then(markStale, () => {});
  connect();
}

function showSignIn(reason) {
  setLive("off");
  $("board").hidden = true;
  $("account").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-reason").textContent = reason;
  $("sign-in-reason").hidden = !reason;
  $("sign-in-token").focus();
}

function endSession() {
  signedIn = false;
  if (source) source.close();
  source = null;
  for (const id of [...cards.keys()]) remove(id);
  document.dispatchEvent(new CustomEvent("framestate:signed-out"));
}

function sessionEnded(reason) {
  endSession();
  showSignIn(reason);
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("sign-in-token");
  const token = input.value.trim();
  input.value = "";
  const error = $("sign-in-error");
  error.hidden = true;
  if (!token) return;
  const response = await fetch("/v1/session", {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    credentials: "same-origin",
  });
  if (response.ok) {
    start();
    return;
  }
  const body = await response.json().catch(() => ({}));
  error.textContent = response.status === 403
    ? "That is a worker token. The board signs in with a client token: framestate token --sub NAME --role client"
    : `That token was refused. ${body.detail || ""}`;
  error.hidden = false;
  input.focus();
});

$("sign-out").addEventListener("click", async () => {
  await fetch("/v1/session", { method: "DELETE", headers: { "Content-Type": "application/json" }, credentials: "same-origin" });
  endSession();
  showSignIn("You have signed out.");
});

start();
