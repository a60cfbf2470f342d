// Live updates arrive as htmx out-of-band fragments over one websocket
// (hx-ws extension). On every (re)connect, ask the server to replay the
// events after the last one this page saw: Channels delivers at most once.
(function () {
  function setStatus(connected) {
    var badge = document.getElementById("live-status");
    if (!badge) return;
    badge.classList.toggle("text-bg-success", connected);
    badge.classList.toggle("text-bg-secondary", !connected);
    badge.querySelector(".live-label").textContent = connected ? "Live" : "Reconnecting…";
    document.body.dataset.live = connected ? "connected" : "disconnected";
  }
  document.addEventListener("htmx:wsOpen", function (event) {
    var cursor = document.getElementById("live-cursor");
    var after = cursor ? Number(cursor.dataset.eventId || 0) : 0;
    event.detail.socketWrapper.send(JSON.stringify({ resume: after }), event.detail.elt);
    setStatus(true);
  });
  document.addEventListener("htmx:wsClose", function () { setStatus(false); });
  // A swapped-in signal (partials/live_signal.html) becomes a DOM event that
  // tables listen for (hx-trigger="jobs-changed from:body") to reload in place.
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var signal = event.detail.target && event.detail.target.dataset.signal;
    if (signal) htmx.trigger(document.body, signal);
  });
})();
