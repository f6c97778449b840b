// Technician dashboard. Reads /api/dashboard (and its consumption and polls views) with the
// technician token given once as ?token=... (kept in sessionStorage, removed from the address
// bar), refreshes every 10 s, and draws the charts with the Chart.js the gateway serves.
"use strict";

const params = new URLSearchParams(location.search);
if (params.get("token")) {
  sessionStorage.setItem("dashboardToken", params.get("token"));
  params.delete("token");
  const rest = params.toString();
  history.replaceState(null, "", location.pathname + (rest ? "?" + rest : ""));
}
const token = sessionStorage.getItem("dashboardToken") || "";
const $ = (id) => document.getElementById(id);

// Device and bus states as the technician reads them; "offline" is a device whose circuit
// breaker is open (polls paused after repeated failures).
const STATE_TEXT = {
  ok: "正常", up: "正常", failing: "故障", down: "断开", offline: "熔断（暂停轮询）",
  slow: "缓慢", connected: "已连接", disconnected: "已断开", connecting: "连接中",
  stopped: "已停止", unknown: "未知", refused: "被拒绝（账号或权限）",
  open: "抬起", closed: "落下", held: "车辆在下方，保持抬起",
};
const LANE_TEXT = { entry: "入口", exit: "出口" };
const VERDICT_TEXT = { open: "放行", deny: "拒绝", charge_as_visitor: "按访客收费放行", warn: "放行（欠费提醒）" };

async function api(path) {
  const r = await fetch(path, { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
  const body = await r.json();
  if (!r.ok) throw new Error(body.message || body.error || ("HTTP " + r.status));
  return body;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function stateBadge(state) {
  const s = el("span", STATE_TEXT[state] ? `${STATE_TEXT[state]} (${state})` : state, "state " + state);
  s.dataset.state = state;
  return s;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    if (c instanceof Node) { const td = document.createElement("td"); td.appendChild(c); tr.appendChild(td); }
    else if (c && typeof c === "object") { tr.appendChild(el("td", c.text, c.cls)); }
    else tr.appendChild(el("td", c));
  }
  return tr;
}

function renderUplink(d) {
  $("gateway").textContent = d.gateway || "";
  const b = $("broker");
  b.replaceChildren(stateBadge(d.broker.state));
  if (d.broker.detail) b.appendChild(el("span", " " + d.broker.detail, "muted"));
  $("backlog").textContent = d.outbox.pending;
  $("last-seq").textContent = d.outbox.last_seq;
  const tb = $("streams").tBodies[0];
  tb.replaceChildren(...d.outbox.streams.map((s) => row([s.stream,
    { text: s.appended, cls: "num" }, { text: s.acknowledged, cls: "num" },
    { text: s.pending, cls: "num" }, { text: s.dropped, cls: "num" }])));
}

function renderBuses(d) {
  const box = $("buses");
  if (!d.buses.length) { box.replaceChildren(el("p", "没有配置表计总线", "muted")); return; }
  box.replaceChildren(...d.buses.map((bus) => {
    const div = el("div", null, "bus");
    div.id = "bus-" + bus.bus;
    const h = el("h3", bus.bus + " ");
    h.appendChild(stateBadge(bus.state));
    div.appendChild(h);
    div.appendChild(el("div", `${bus.protocol || ""} ${bus.link || ""} · 请求 ${bus.requests ?? 0} · 超时 ${bus.timeouts ?? 0}` +
      ` · 校验错 ${bus.crc_errors ?? 0} · 帧错 ${bus.frame_errors ?? 0} · 跳过 ${bus.polls_skipped ?? 0}`, "meta"));
    const t = el("table");
    t.appendChild(el("thead")).appendChild(row(["设备", "状态", "最近读数", "读数时间", "轮询/失败", "最近错误"]));
    const tb = t.appendChild(el("tbody"));
    for (const dev of bus.devices) {
      const r = dev.last_reading;
      const tr = row([dev.device, stateBadge(dev.state),
        r ? `${r.value} ${r.unit} (${r.quantity})` : "—", r ? r.ts : "—",
        { text: `${dev.polls}/${dev.failures}`, cls: "num" },
        { text: dev.last_error || "", cls: "err" }]);
      tr.id = "device-" + dev.device;
      tb.appendChild(tr);
    }
    div.appendChild(t);
    return div;
  }));
}

// Gates: the arm, the loop, passages since start, the lane's last decision (credential masked
// as the gateway keeps it) and the last barrier fault. Hidden on a site without gates.
function renderGates(d) {
  const gates = d.gates || [];
  $("gates-panel").classList.toggle("hidden", gates.length === 0);
  $("gates").tBodies[0].replaceChildren(...gates.map((g) => {
    const arm = stateBadge(g.barrier);
    const cell = el("span");
    cell.appendChild(arm);
    if (g.state !== "ok") { cell.appendChild(document.createTextNode(" ")); cell.appendChild(stateBadge(g.state)); }
    const loop = g.loop_occupied === null ? "—" : (g.loop_occupied ? "有车" : "无车");
    const last = g.last_decision;
    const decision = last ? `${last.ts} ${last.credential} ${VERDICT_TEXT[last.verdict] || last.verdict}` +
      (last.reason ? `（${last.reason}）` : "") : "—";
    const tr = row([g.gate, LANE_TEXT[g.lane] || g.lane, cell, loop, { text: g.passages, cls: "num" },
      decision, { text: g.faults ? `${g.faults} · ${g.last_fault_at}: ${g.last_fault}` : "", cls: "err" }]);
    tr.id = "gate-" + g.gate;
    tr.title = g.drive;
    return tr;
  }));
}

function renderEvents(d) {
  $("events").tBodies[0].replaceChildren(...d.events.map((e) => row([e.ts, e.kind, e.source, e.detail])));
}

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
const charts = {};

function drawChart(id, config) {
  if (typeof Chart === "undefined") return;
  if (charts[id]) charts[id].destroy();
  config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
  charts[id] = new Chart($(id), config);
  $(id).dataset.drawn = String(config.data.datasets.length);
}

function fillMeters(d) {
  const sel = $("meter");
  const current = sel.value || params.get("meter") || "";
  const names = d.meters;
  if (sel.options.length === names.length && [...sel.options].every((o, i) => o.value === names[i])) return;
  sel.replaceChildren(...names.map((m) => { const o = el("option", m); o.value = m; return o; }));
  if (names.includes(current)) sel.value = current;
}

async function refreshConsumption() {
  const meter = $("meter").value;
  const empty = $("consumption-empty");
  if (!meter) { empty.classList.remove("hidden"); return; }
  const c = await api(`/api/dashboard/consumption?meter=${encodeURIComponent(meter)}&range=${$("range").value}`);
  empty.classList.toggle("hidden", c.series.length > 0);
  drawChart("consumption-chart", {
    type: "bar",
    data: { labels: c.labels, datasets: c.series.map((s, i) => ({
      label: `${s.quantity} (${s.unit})`, data: s.values, backgroundColor: COLORS[i % COLORS.length] })) },
  });
}

async function refreshPolls() {
  const p = await api("/api/dashboard/polls");
  const withPoints = p.buses.filter((b) => b.points.length);
  $("polls-empty").classList.toggle("hidden", withPoints.length > 0);
  const longest = Math.max(0, ...withPoints.map((b) => b.points.length));
  drawChart("polls-chart", {
    type: "line",
    data: {
      labels: Array.from({ length: longest }, (_, i) => i + 1),
      datasets: withPoints.map((b, i) => ({
        label: b.bus, data: b.points.map((x) => x.interval_ms), borderColor: COLORS[i % COLORS.length],
        pointRadius: 1, tension: 0.1 })),
    },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: "ms" } } } },
  });
}

async function refresh() {
  try {
    const d = await api("/api/dashboard");
    renderUplink(d);
    renderBuses(d);
    renderGates(d);
    renderEvents(d);
    fillMeters(d);
    await refreshConsumption();
    await refreshPolls();
    $("error").textContent = "";
    $("updated").textContent = "更新于 " + new Date().toLocaleTimeString("zh-CN", { hour12: false });
    document.body.dataset.loaded = "1";
  } catch (e) {
    $("error").textContent = "无法读取网关状态：" + e.message;
  }
}

$("meter").addEventListener("change", () => refreshConsumption().catch((e) => { $("error").textContent = e.message; }));
$("range").addEventListener("change", () => refreshConsumption().catch((e) => { $("error").textContent = e.message; }));
if (params.get("range") === "week") $("range").value = "week";
if (!token) $("error").textContent = "需要技术员令牌：请以 /dashboard/?token=… 打开本页";
else { refresh(); setInterval(refresh, 10000); }
