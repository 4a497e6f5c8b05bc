// ChainSight control tower: draws the server's Plotly figures and keeps the live feed
// (the API's server-sent events stream, already scoped to the logged-in user).

const LABELS = {
  patient_enrolled: "Patient enrolled", apheresis_scheduled: "Apheresis scheduled",
  apheresis_done: "Apheresis done", material_shipped: "Material shipped",
  material_received: "Material received", run_started: "Run started", run_failed: "Run failed",
  qc_released: "QC released", qc_out_of_spec: "QC out of spec", dp_shipped: "DP shipped",
  dp_received: "DP received", infused: "Infused", withdrawn: "Withdrawn",
  lot_released: "Lot released", extension_granted: "Extension granted",
  extension_refused: "Extension refused", lot_quarantined: "Lot quarantined",
  reservation_added: "Suites reserved", milestone_done: "Milestone done",
  site_activated: "Site activated",
};

function drawCharts() {
  if (typeof window.Plotly === "undefined") return;
  for (const el of document.querySelectorAll("script.chart-data")) {
    const target = document.getElementById(el.dataset.target);
    if (!target) continue;
    const figure = JSON.parse(el.textContent);
    window.Plotly.newPlot(target, figure.data, figure.layout, {
      responsive: true, displaylogo: false,
      modeBarButtonsToRemove: ["lasso2d", "select2d"],
    });
  }
}

function text(tag, value, cls) {
  const node = document.createElement(tag);
  node.textContent = value;
  if (cls) node.className = cls;
  return node;
}

function describe(kind, data) {
  if (kind === "event") {
    const who = data.patient || data.coi || (data.event && (data.event.lot || data.event.site || data.event.facility)) || "";
    return [`#${data.sequence} ${LABELS[data.kind] || data.kind}`, `${who} · ${data.occurred_on} · ${data.recorded_by}`];
  }
  if (kind === "alert") return [`Alert (${data.severity}): ${data.title}`, data.due ? `act by ${data.due}` : ""];
  return [`Incident: ${data.code || data.kind}`, data.message || ""];
}

function addToFeed(kind, data) {
  const feed = document.getElementById("live-feed");
  if (!feed) return;
  const [head, sub] = describe(kind, data);
  const item = document.createElement("li");
  item.className = `new live-${kind}`;
  item.dataset.kind = kind;
  item.appendChild(text("span", head, "k"));
  item.appendChild(document.createElement("br"));
  item.appendChild(text("small", sub));
  feed.prepend(item);
  while (feed.children.length > 50) feed.lastElementChild.remove();
  if (kind === "event") addToTable(data);
}

function addToTable(data) {
  const body = document.querySelector("#events-table tbody");
  if (!body || body.querySelector(`tr[data-sequence="${data.sequence}"]`)) return;
  const empty = body.querySelector("tr.empty");
  if (empty) empty.remove();
  const row = document.createElement("tr");
  row.className = "live-row";
  row.dataset.sequence = data.sequence;
  const details = Object.entries(data.event || {})
    .filter(([k]) => !["kind", "trial", "occurred_on", "patient", "coi"].includes(k))
    .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ");
  for (const value of [data.sequence, data.occurred_on, LABELS[data.kind] || data.kind,
                       data.patient || data.coi || "–", data.recorded_by, details]) {
    row.appendChild(text("td", String(value)));
  }
  row.lastElementChild.className = "details";
  body.prepend(row);
}

function live() {
  const trial = document.body.dataset.trial;
  const status = document.getElementById("live-status");
  if (!trial || !status || typeof EventSource === "undefined") return;
  const source = new EventSource(`/api/stream?trial=${encodeURIComponent(trial)}`);
  source.addEventListener("open", () => { status.textContent = "live"; status.classList.add("on"); });
  source.addEventListener("error", () => { status.textContent = "reconnecting…"; status.classList.remove("on"); });
  for (const kind of ["event", "alert", "incident"]) {
    source.addEventListener(kind, (message) => addToFeed(kind, JSON.parse(message.data)));
  }
  // Close before the page goes, so leaving a page never aborts a request mid-flight.
  window.addEventListener("pagehide", () => source.close());
}

function autosubmit() {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
}

function whatIfFocus() {
  const form = document.querySelector(".whatif-form");
  if (!form) return;
  const sync = () => {
    const chosen = form.querySelector("input[name=change]:checked");
    for (const set of form.querySelectorAll("fieldset[data-change]")) {
      set.classList.toggle("dim", !chosen || (set.dataset.change !== chosen.value
        && !(chosen.value === "success" && set.dataset.change === "suite")));
    }
  };
  form.addEventListener("change", sync);
  sync();
}

drawCharts();
autosubmit();
whatIfFocus();
live();
