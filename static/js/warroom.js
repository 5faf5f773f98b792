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

  // An entry's popover: its details and every conflict it raises, fetched when it is opened (the
  // events carry only the conflicts' count). Click, Enter or Space on an event opens it; Escape,
  // its close button or a click elsewhere closes it, focus going back to the event.
  function entryPopover(el, popover) {
    var opener = null;

    function close() {
      if (popover.hidden) return;
      popover.hidden = true;
      popover.innerHTML = "";
      if (opener && opener.isConnected) opener.focus();
      opener = null;
    }

    function place(target) {
      var box = popover.offsetParent ? popover.offsetParent.getBoundingClientRect() : { top: 0, left: 0, width: window.innerWidth };
      var at = target.getBoundingClientRect();
      var left = Math.max(0, Math.min(at.left - box.left, box.width - popover.offsetWidth));
      popover.style.top = at.bottom - box.top + 4 + "px";
      popover.style.left = left + "px";
    }

    function open(id, target, range) {
      var url = el.dataset.entryUrl.replace("/_/", "/" + encodeURIComponent(id) + "/") +
        "?start=" + range.start + "&end=" + range.end +
        "&next=" + encodeURIComponent(window.location.pathname + window.location.search);
      opener = target;
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.text(); })
        .then(function (html) {
          popover.innerHTML = html;  // our template's output, escaped by Django
          popover.hidden = false;
          place(target);
          var title = popover.querySelector("#wr-entry-title");
          if (title) title.focus();
        })
        .catch(function () { opener = null; });
    }

    popover.addEventListener("click", function (event) {
      if (event.target.closest("[data-close]")) close();
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") close();
    });
    document.addEventListener("click", function (event) {
      if (!popover.hidden && !popover.contains(event.target) && !(opener && opener.contains(event.target))) close();
    });
    return { open: open, close: close };
  }

  function setupCalendar(el) {
    if (!window.FullCalendar) return;
    var query = el.dataset.query ? "&" + el.dataset.query.replace(/(^|&)month=[^&]*/g, "") : "";
    // The window the events were last fetched for: an entry's conflicts are found in the same one.
    var range = { start: "", end: "" };
    var popover = document.getElementById("wr-entry");
    var entry = popover && el.dataset.entryUrl ? entryPopover(el, popover) : null;
    var calendar = new FullCalendar.Calendar(el, {
      locale: "pt-br",
      initialView: "dayGridMonth",
      initialDate: el.dataset.initialDate,
      headerToolbar: { left: "prev,next today", center: "title", right: "dayGridMonth,dayGridWeek,listMonth" },
      // Text arrows: FullCalendar's icon font is a data: URI, which the CSP's font-src refuses.
      buttonIcons: false,
      buttonText: { prev: el.dataset.prevLabel, next: el.dataset.nextLabel },
      height: "auto",
      dayMaxEvents: 4,
      eventStartEditable: true,
      eventDurationEditable: false,
      events: function (info, success, failure) {
        var start = info.startStr.slice(0, 10);
        var end = info.endStr.slice(0, 10);
        range = { start: start, end: end };
        fetch(el.dataset.eventsUrl + "?start=" + start + "&end=" + end + query, { credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (data) { success(data.events); })
          .catch(failure);
      },
      eventDidMount: function (info) {
        var conflicts = info.event.extendedProps.conflicts || 0;
        info.el.setAttribute("data-testid", "calendar-event");
        info.el.setAttribute("data-key", info.event.id);
        info.el.setAttribute("data-conflicts", String(conflicts));
        if (conflicts) info.el.title = el.dataset.conflictsLabel + ": " + conflicts;
      },
      eventClick: function (info) {
        info.jsEvent.preventDefault();
        if (entry) entry.open(info.event.id, info.el, range);
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
