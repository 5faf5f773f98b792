/* The shared space's calendar (FullCalendar) and War Room board (SortableJS), both served from
   static/vendor. Every drag has a keyboard way through plain forms (the date field and day buttons
   on a campaign or action page; the "Move to" select on each card). */
(function () {
  "use strict";

  function csrf() {
    var match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function post(url, data) {
    var body = new URLSearchParams(data);
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), Accept: "application/json" },
    }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    });
  }

  function setupCalendar(el) {
    if (!window.FullCalendar) return;
    var query = el.dataset.query ? "&" + el.dataset.query.replace(/(^|&)month=[^&]*/g, "") : "";
    var calendar = new FullCalendar.Calendar(el, {
      locale: "pt-br",
      initialView: "dayGridMonth",
      initialDate: el.dataset.initialDate,
      headerToolbar: { left: "prev,next today", center: "title", right: "dayGridMonth,dayGridWeek,listMonth" },
      height: "auto",
      dayMaxEvents: 4,
      eventStartEditable: true,
      eventDurationEditable: false,
      events: function (info, success, failure) {
        var start = info.startStr.slice(0, 10);
        var end = info.endStr.slice(0, 10);
        fetch(el.dataset.eventsUrl + "?start=" + start + "&end=" + end + query, { credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (data) { success(data.events); })
          .catch(failure);
      },
      eventDidMount: function (info) {
        var conflicts = info.event.extendedProps.conflicts || [];
        info.el.setAttribute("data-testid", "calendar-event");
        info.el.setAttribute("data-key", info.event.id);
        if (conflicts.length) info.el.title = conflicts.join("\n");
      },
      dateClick: function (info) {
        if (el.dataset.newUrl) window.location.href = el.dataset.newUrl + "?start=" + info.dateStr;
      },
      eventDrop: function (info) {
        var day = info.event.startStr.slice(0, 10);
        var move = function (confirm) {
          return post(el.dataset.moveUrl, { key: info.event.id, date: day, confirm: confirm ? "on" : "" });
        };
        move(false).then(function (result) {
          if (result.saved) { calendar.refetchEvents(); return; }
          var text = el.dataset.confirmText + "\n\n" + result.warnings.join("\n") + "\n\n" + el.dataset.confirmQuestion;
          if (window.confirm(text)) {
            move(true).then(function () { calendar.refetchEvents(); });
          } else {
            info.revert();
          }
        }).catch(function () { info.revert(); });
      },
    });
    calendar.render();
    // Everyone's changes show without reloading.
    window.setInterval(function () { calendar.refetchEvents(); }, 15000);
  }

  var dragging = false;

  function setupBoard(root) {
    if (!window.Sortable || !root || !root.dataset.editable) return;
    root.querySelectorAll(".wr-cards").forEach(function (list) {
      window.Sortable.create(list, {
        group: "warroom-board",
        animation: 120,
        forceFallback: true,  // mouse events, not native drag and drop: the same on every browser
        filter: "select, button, input, a",
        preventOnFilter: false,
        onStart: function () { dragging = true; },
        onEnd: function (event) {
          dragging = false;
          var card = event.item;
          post(card.dataset.moveUrl, { column: event.to.dataset.column, position: String(event.newIndex) })
            .then(function () { /* the next poll brings everyone's view, this one's included */ })
            .catch(function () { window.location.reload(); });
        },
      });
    });
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    // No refresh of the board under a card being dragged.
    if (dragging && event.target && event.target.id === "board") event.preventDefault();
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var board = document.getElementById("board");
    if (board && (event.target === board || event.target.contains(board) || !event.target.isConnected)) setupBoard(board);
  });
  document.addEventListener("htmx:load", function (event) {
    if (event.target && event.target.id === "board") setupBoard(event.target);
  });

  document.addEventListener("DOMContentLoaded", function () {
    var cal = document.getElementById("calendar");
    if (cal) setupCalendar(cal);
    var board = document.getElementById("board");
    if (board) setupBoard(board);
  });
})();
