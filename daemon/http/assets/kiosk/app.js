// Kiosk page: find a room, show its bills, prepaid balance and any arrears warning, pay at the
// POS or top up, pay a car's parking fee found by its plate, and print (or reprint) the
// receipt. With the platform linked, a room can also be paid with a WeChat Pay / Alipay payment
// code (付款码) read by the kiosk's barcode scanner: a USB HID scanner types the digits into the
// focused field and ends with Enter, which submits it (POST /api/payments/qr); the platform
// charges it and the page follows the payment as it follows a card sale. Talks only to the local gateway's /api with the kiosk token
// given once as ?token=... (kept in localStorage, so the kiosk keeps it across restarts, and
// removed from the address bar and history at once), so it works without the internet.
"use strict";

const params = new URLSearchParams(location.search);
if (params.get("token")) {
  localStorage.setItem("kioskToken", params.get("token"));
  params.delete("token");
  const rest = params.toString();
  history.replaceState(null, "", location.pathname + (rest ? "?" + rest : ""));
}
const token = localStorage.getItem("kioskToken") || "";

const $ = (id) => document.getElementById(id);
const show = (id) => {
  for (const s of ["find", "account", "paying", "parking-find", "parking", "scan"]) {
    $(s).classList.toggle("hidden", s !== id);
  }
};
const yuan = (fen) => {
  const neg = fen < 0;
  const v = Math.abs(fen);
  return (neg ? "-" : "") + "¥" + Math.floor(v / 100) + "." + String(v % 100).padStart(2, "0");
};

async function api(method, path, body, headers) {
  const res = await fetch(path, {
    method,
    headers: Object.assign({ Authorization: "Bearer " + token },
                           body ? { "Content-Type": "application/json" } : {}, headers || {}),
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(data.message || res.statusText), { status: res.status });
  return data;
}

// On-screen keypad for the focused room field.
let active = $("building");
for (const f of ["building", "unit", "room"]) {
  $(f).addEventListener("focus", () => { active = $(f); mark(); });
}
function mark() {
  for (const f of ["building", "unit", "room"]) $(f).classList.toggle("active", $(f) === active);
}
mark();
// On-screen keys into `container`; each types into the field target() names.
function keypad(container, keys, target) {
  for (const k of keys) {
    const b = document.createElement("button");
    b.textContent = k;
    b.addEventListener("click", () => {
      const f = target();
      if (k === "删除") f.value = f.value.slice(0, -1);
      else if (k === "清空") f.value = "";
      else if (f.value.length < f.maxLength) f.value += k;
    });
    $(container).appendChild(b);
  }
}
keypad("keypad", [..."1234567890", "删除", "清空"], () => active);

let account = null;
async function lookup() {
  const room = ["building", "unit", "room"].map((f) => $(f).value.trim()).join("-");
  $("find-error").textContent = "";
  if (!/^\d+-\d+-\d+$/.test(room)) {
    $("find-error").textContent = "请输入楼栋、单元和房号";
    return;
  }
  try {
    account = await api("GET", "/api/rooms/" + encodeURIComponent(room));
  } catch (e) {
    $("find-error").textContent = e.status === 404 ? "未找到该房间，请核对后重试" : "查询失败：" + e.message;
    return;
  }
  render();
  show("account");
}

// What each arrears action means for the resident (the site's policy decides which apply).
const ARREARS_ACTIONS = {
  warn: "请尽快缴清欠费",
  charge_as_visitor: "车辆进出停车场按临时车收费",
  deny_gate: "门禁及车辆通行已受限",
  close_valve: "已暂停供水/供电，缴清后自动恢复",
};

function renderArrears(a) {
  const box = $("arrears");
  box.classList.toggle("hidden", !a || a.level <= 0);
  if (!a || a.level <= 0) return;
  $("arrears-title").textContent = "欠费提醒：" + (a.days_overdue > 0 ? "已逾期 " + a.days_overdue + " 天，" : "") +
    "逾期欠费 " + yuan(a.overdue_fen);
  const list = $("arrears-actions");
  list.innerHTML = "";
  for (const act of a.actions.length ? a.actions : ["warn"]) {
    const li = document.createElement("li");
    li.textContent = ARREARS_ACTIONS[act] || act;
    list.appendChild(li);
  }
}

// A bill of a billing period: "2026年11月账单", its due date, late fee and what was paid.
const BILL_STATUS = { open: "未缴", partially_paid: "部分已缴" };
function periodText(p) {
  const m = /^(\d{4})-(\d{2})$/.exec(p || "");
  return m ? m[1] + "年" + Number(m[2]) + "月账单" : "账单 " + p;
}
function billCells(b) {
  if (b.item !== "bill") {
    return [(b.ts || "").slice(0, 10), b.item === "water" ? "水费" : b.item === "balance" ? "往期欠费" : b.item,
            "", yuan(b.amount_fen)];
  }
  let item = periodText(b.period) + "（" + (BILL_STATUS[b.status] || b.status);
  if (b.paid_fen > 0) item += "，已缴 " + yuan(b.paid_fen);
  if (b.late_fee_fen > 0) item += "，含滞纳金 " + yuan(b.late_fee_fen);
  item += "）";
  const due = (b.due || "").slice(0, 10) + (b.overdue ? "（已逾期 " + b.days_overdue + " 天）" : "");
  return [(b.issued || "").slice(0, 10), item, due, yuan(b.amount_fen)];
}

function render() {
  $("acct-room").textContent = account.room;
  renderArrears(account.arrears);
  $("due").textContent = yuan(account.due_fen);
  $("balance").textContent = yuan(account.balance_fen);
  const unbilled = account.unbilled_fen || 0;
  $("unbilled-row").classList.toggle("hidden", unbilled <= 0);
  $("unbilled").textContent = yuan(unbilled);
  const body = $("bills").querySelector("tbody");
  body.innerHTML = "";
  for (const b of account.bills) {
    const tr = document.createElement("tr");
    if (b.overdue) tr.className = "overdue";
    for (const v of billCells(b)) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  $("no-bills").classList.toggle("hidden", account.bills.length > 0);
  $("bills").classList.toggle("hidden", account.bills.length === 0);
  $("pay-due").disabled = account.due_fen <= 0 || !account.card_payments;
  $("qr-choice").classList.toggle("hidden", !account.qr_payments);
  $("qr-hint").classList.toggle("hidden", !!account.qr_payments);
  $("qr-pay-due").disabled = account.due_fen <= 0;
}

// A QR payment is charged by the platform: the same states, other words.
const QR_STATES = {
  intent: "正在提交付款码…",
  authorising: "正在扣款，请在手机上确认…",
  unknown: "正在确认支付结果，请稍候…",
  approved: "支付成功，正在打印凭条…",
  receipt_printed: "支付成功，请取走凭条",
  uploaded: "支付成功，请取走凭条",
  declined: "支付未成功",
};
const STATES = {
  intent: "正在连接POS机…",
  authorising: "请在POS机上刷卡或插卡，并输入密码",
  unknown: "正在向POS机确认交易结果，请稍候…",
  approved: "支付成功，正在打印凭条…",
  receipt_printed: "支付成功，请取走凭条",
  uploaded: "支付成功，请取走凭条",
  declined: "支付未成功",
};

let paymentId = null;
let paymentKind = null;
// One Idempotency-Key per sale on screen (kind and amount of the room or car looked up): a
// double tap, or a retry after a lost answer, sends the same key and gets the same payment.
// A finished payment's key is dropped, so paying again is a new sale.
let saleKeys = {};
let saleKey = null;
function keyFor(what) {
  if (!saleKeys[what]) {
    const raw = crypto.getRandomValues(new Uint8Array(16));
    saleKeys[what] = Array.from(raw, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  return saleKeys[what];
}
const TITLES = { topup: "预存充值", pay: "缴清欠费", parking: "缴纳停车费" };
async function pay(kind, fen) {
  show("paying");
  paymentKind = kind;
  $("pay-title").textContent = TITLES[kind];
  $("pay-amount").textContent = yuan(fen);
  $("pay-result").classList.add("hidden");
  const body = kind === "parking"
    ? { kind, sale: parked.sale, amount_fen: fen, method: "card" }
    : { sale: account.sale, amount_fen: fen, kind, method: "card" };
  saleKey = (kind === "parking" ? "parking-" + parked.session : account.sale) + "/" + kind + "/" + fen;
  try {
    const r = await api("POST", "/api/payments", body, { "Idempotency-Key": keyFor(saleKey) });
    paymentId = r.payment.id;
    poll();
  } catch (e) {
    finish("支付未发起：" + e.message);
  }
}

async function poll() {
  let p;
  try {
    p = (await api("GET", "/api/payments/" + encodeURIComponent(paymentId))).payment;
  } catch (e) {
    setTimeout(poll, 1000);
    return;
  }
  $("pay-state").textContent = (p.method === "card" ? STATES : QR_STATES)[p.state] || p.state;
  const done = p.state === "declined" || (p.applied && p.state !== "authorising" &&
                                          (p.state !== "approved" || p.receipt_attempts > 0));
  if (!done) {
    setTimeout(poll, 500);
    return;
  }
  delete saleKeys[saleKey];
  if (p.state === "declined") finish("交易未成功" + (p.message ? "：" + p.message : "") + "，未扣款");
  else if (paymentKind === "parking") finish("已缴停车费 " + yuan(p.settled_fen) + "，请尽快驾车离场");
  else finish("已缴清 " + yuan(p.settled_fen) + "，预存 " + yuan(p.topped_up_fen) + "，当前余额 " +
              yuan(p.balance_after_fen) + (p.receipt_error ? "（凭条未打印：" + p.receipt_error + "）" : ""));
  $("reprint").classList.toggle("hidden", p.state === "declined");
}

function finish(text) {
  $("pay-detail").textContent = text;
  $("pay-result").classList.remove("hidden");
}

// Scanning a payment code: the field keeps the focus (the scanner types into whatever has it)
// and Enter, which scanners send after the digits, submits. The code is not kept by the page.
let scanKind = null, scanFen = 0;
function scan(kind, fen) {
  scanKind = kind;
  scanFen = fen;
  $("scan-title").textContent = "请出示付款码 · " + TITLES[kind];
  $("scan-amount").textContent = yuan(fen);
  $("scan-error").textContent = "";
  $("scan-code").value = "";
  show("scan");
  $("scan-code").focus();
}
$("scan-code").addEventListener("blur", () => {
  if (!$("scan").classList.contains("hidden")) setTimeout(() => $("scan-code").focus(), 0);
});
$("scan-code").addEventListener("keydown", (ev) => {
  if (ev.key !== "Enter") return;
  ev.preventDefault();
  const code = $("scan-code").value.replace(/\s+/g, "");
  $("scan-code").value = "";
  // WeChat Pay: 18 digits from 10-15; Alipay: 16-24 digits from 25-30 (the gateway checks too).
  if (!/^(1[0-5]\d{16}|(2[5-9]|30)\d{14,22})$/.test(code)) {
    $("scan-error").textContent = "未识别的付款码，请出示微信或支付宝付款码重新扫码";
    return;
  }
  payQr(scanKind, scanFen, code);
});
async function payQr(kind, fen, code) {
  show("paying");
  paymentKind = kind;
  $("pay-title").textContent = TITLES[kind] + "（扫码支付）";
  $("pay-amount").textContent = yuan(fen);
  $("pay-result").classList.add("hidden");
  $("pay-state").textContent = QR_STATES.intent;
  saleKey = account.sale + "/qr/" + kind + "/" + fen;
  try {
    const r = await api("POST", "/api/payments/qr",
                        { sale: account.sale, amount_fen: fen, kind, auth_code: code },
                        { "Idempotency-Key": keyFor(saleKey) });
    paymentId = r.payment.id;
    poll();
  } catch (e) {
    delete saleKeys[saleKey];  // nothing was charged: the next scan is a new sale
    finish("支付未发起：" + e.message);
  }
}
$("qr-pay-due").addEventListener("click", () => scan("pay", account.due_fen));
for (const b of document.querySelectorAll(".qr-amount")) {
  b.addEventListener("click", () => scan("topup", Number(b.dataset.fen)));
}
$("scan-back").addEventListener("click", () => show("account"));

$("lookup").addEventListener("click", lookup);
$("back").addEventListener("click", () => show("find"));
$("pay-due").addEventListener("click", () => pay("pay", account.due_fen));
for (const b of document.querySelectorAll(".amount")) {
  b.addEventListener("click", () => pay("topup", Number(b.dataset.fen)));
}
$("reprint").addEventListener("click", async () => {
  try {
    await api("POST", "/api/payments/" + encodeURIComponent(paymentId) + "/receipt");
    $("pay-state").textContent = "凭条正在补打";
  } catch (e) {
    $("pay-state").textContent = "补打失败：" + e.message;
  }
});
$("done").addEventListener("click", () => {
  for (const f of ["building", "unit", "room"]) $(f).value = "";
  $("plate").value = "";
  show("find");
});

// Parking: a plate typed on the on-screen keys (province, then letters and digits).
const PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";
keypad("plate-keys", [...PROVINCES, ..."0123456789ABCDEFGHJKLMNPQRSTUVWXYZ", "删除", "清空"],
       () => $("plate"));

function minutesText(from) {
  const m = Math.max(0, Math.floor((Date.now() - Date.parse(from)) / 60000));
  return (m >= 60 ? Math.floor(m / 60) + " 小时 " : "") + (m % 60) + " 分钟";
}

let parked = null;
async function lookupPlate() {
  const plate = $("plate").value.trim().toUpperCase();
  $("plate-error").textContent = "";
  if (plate.length < 7) {
    $("plate-error").textContent = "请输入完整车牌号";
    return;
  }
  try {
    parked = await api("GET", "/api/parking/sessions?plate=" + encodeURIComponent(plate));
  } catch (e) {
    $("plate-error").textContent = e.status === 404 ? "未找到该车辆的在场记录" : "查询失败：" + e.message;
    return;
  }
  $("park-plate").textContent = parked.plate || "";
  $("park-entry").textContent = (parked.entry || "").slice(0, 16).replace("T", " ");
  $("park-stay").textContent = minutesText(parked.entry);
  $("park-due").textContent = yuan(parked.due_fen);
  $("park-pay").disabled = parked.due_fen <= 0;
  $("park-note").textContent = parked.due_fen > 0
    ? "请在POS机上刷卡支付，支付后请于规定时间内离场"
    : (parked.state === "paid" ? "已缴费，请在规定时间内离场" : "无需缴费");
  show("parking");
}

$("to-parking").addEventListener("click", () => show("parking-find"));
$("plate-lookup").addEventListener("click", lookupPlate);
$("plate-back").addEventListener("click", () => show("find"));
$("park-back").addEventListener("click", () => show("parking-find"));
$("park-pay").addEventListener("click", () => pay("parking", parked.due_fen));

function tick() { $("clock").textContent = new Date().toLocaleString("zh-CN", { hour12: false }); }
tick();
setInterval(tick, 1000);
// A kiosk mounted at one door (or a link on a room's notice) may open with ?room=B-U-R.
const preset = (params.get("room") || "").match(/^(\d{1,4})-(\d{1,4})-(\d{1,6})$/);
if (preset) {
  [$("building").value, $("unit").value, $("room").value] = preset.slice(1);
  lookup();
}
const presetPlate = params.get("plate");
if (presetPlate) {
  $("plate").value = presetPlate;
  lookupPlate();
}
if (!token) $("status").textContent = "未配置终端令牌：请以 /kiosk/?token=… 打开本页";
