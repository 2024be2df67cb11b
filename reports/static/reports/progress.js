/* Keeps the WhatsApp delivery progress of the shown monthly reports current.
 *
 * Every ~3 s, while at least one shown report is "sending", asks the admin's JSON view
 * (MonthlyReportAdmin.progress_view) for those reports and updates their bars, counts
 * and labels in place. Reports whose messages carry links to a file keep being asked
 * about, every ~10 s, while some parent sent a link that still works has not opened it
 * ("opened: n of m" moves for days after the sending ended). Stops once there is nothing left to watch;
 * backs off, then stops, on errors (for instance after the session expired).
 */
"use strict";
(function () {
  const INTERVAL = 3000;
  const OPENED_INTERVAL = 10000;
  const MAX_FAILURES = 5;
  let failures = 0;

  function sendingWidgets() {
    return Array.from(document.querySelectorAll(".wa-progress[data-state='sending']"));
  }

  function watchedWidgets() {
    // Sending, or sent with links some parents have not opened yet.
    return Array.from(document.querySelectorAll(".wa-progress")).filter(
      (widget) =>
        widget.dataset.state === "sending" ||
        (widget.dataset.links === "1" && widget.dataset.allOpened !== "1"),
    );
  }

  function setHidden(element, hidden) {
    if (element) {
      element.hidden = hidden;
    }
  }

  function update(widget, progress) {
    widget.dataset.state = progress.state;
    for (const segment of widget.querySelectorAll("[data-segment]")) {
      const count = progress[segment.dataset.segment];
      segment.style.width = (progress.total ? (100 * count) / progress.total : 0) + "%";
    }
    for (const count of widget.querySelectorAll("[data-count]")) {
      count.textContent = progress[count.dataset.count];
    }
    widget.querySelector("[data-field='state_label']").textContent = progress.state_label;
    widget.querySelector("[data-field='summary']").textContent = progress.summary;
    // "children reached: n of m": a child is reached once one guardian's message was sent.
    const children = widget.querySelector("[data-field='children_summary']");
    if (children) {
      children.textContent = progress.children_summary;
      setHidden(children, !progress.children_summary);
    }
    widget.querySelector("[data-field='opened_summary']").textContent = progress.opened_summary;
    setHidden(widget.querySelector(".wa-opened"), !progress.opened_summary);
    widget.dataset.links = progress.opened_summary ? "1" : "";
    // Nothing left that a parent could still open (broadcasts.selectors.Progress).
    widget.dataset.allOpened = progress.awaiting_open ? "" : "1";
    // No percentage in the text: "100%" beside a failure reads as success.
    const bar = widget.querySelector(".wa-progress-bar");
    bar.setAttribute("aria-valuenow", progress.percent);
    const empty = progress.total === 0;
    setHidden(bar, empty);
    setHidden(widget.querySelector(".wa-progress-counts"), empty);
  }

  function schedule(delay) {
    window.setTimeout(poll, delay);
  }

  function nextDelay() {
    return sendingWidgets().length ? INTERVAL : OPENED_INTERVAL;
  }

  function poll() {
    const widgets = watchedWidgets();
    if (widgets.length === 0) {
      return;
    }
    if (document.hidden) {
      schedule(nextDelay());
      return;
    }
    const ids = Array.from(new Set(widgets.map((widget) => widget.dataset.reportId)));
    const url = widgets[0].dataset.progressUrl + "?ids=" + ids.join(",");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json(); // a login page (session expired) fails here too
      })
      .then((data) => {
        failures = 0;
        for (const widget of widgets) {
          const progress = data.reports[widget.dataset.reportId];
          if (progress) {
            update(widget, progress);
          } else {
            widget.dataset.state = "gone"; // the report was deleted: stop asking
            widget.dataset.links = "";
          }
        }
        schedule(nextDelay());
      })
      .catch(() => {
        failures += 1;
        if (failures < MAX_FAILURES) {
          schedule(nextDelay() * 2 ** failures);
        }
      });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => schedule(nextDelay()));
  } else {
    schedule(nextDelay());
  }
})();
