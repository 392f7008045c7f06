"use strict";
// gxhub pages. Every call goes to this hub with the session cookie and the X-Gxhub-UI
// header; which pages work depends on the APIs this hub has (read from /openapi.json), and
// a page without its API says so instead of showing made-up data.
const $ = (id) => document.getElementById(id);
const el = (tag, attrs, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) e.append(k instanceof Node ? k : String(k));
  return e;
};
const state = { ops: [], me: null, trace: [], depts: {}, resources: {} };

async function api(method, path, body, headers) {
  const init = { method, credentials: "same-origin", headers: Object.assign({ "X-Gxhub-UI": "1" }, headers || {}) };
  if (body !== undefined) init.body = body;
  const r = await fetch(path, init);
  let json = null;
  try { json = await r.json(); } catch (e) { json = null; }
  if (!r.ok) {
    const err = new Error((json && json.message) || ("HTTP " + r.status));
    err.status = r.status; err.reason = json && json.reason; throw err;
  }
  return json;
}
const errText = (e) => plainError(e);

// ---- words for clerks ----
// The pages show Chinese labels, never enum or reason codes: levels from the API's own
// titles (the OpenAPI document names them, e.g. "省级"), item titles from the catalogue,
// departments by name (code on hover), and these labels for the values the API leaves
// untitled.
const LABELS = {
  role: { COORDINATOR: "协调", PROVIDER: "提供", CONSUMER: "使用", ISSUER: "发证", AUDITOR: "审计" },
  level: { NATIONAL: "国家级", PROVINCIAL: "省级", MUNICIPAL: "地市级", COUNTY: "区县级", TOWNSHIP: "乡镇街道" },
  share: { unconditional: "无条件共享", conditional: "有条件共享", not_shared: "不予共享" },
  cycle: { realtime: "实时", daily: "每日", weekly: "每周", monthly: "每月", quarterly: "每季度", yearly: "每年", annual: "每年" },
  kind: { pull: "调取数据", publish: "发布数据", "requirement.decision": "数据需求审批", "cert.verify": "证照校验", "subject.usage": "使用情况查询",
    "department.register": "部门登记", "calendar.publish": "发布工作日历", "policy.change": "规则变更", "ecert.issue": "证照签发", "ecert.status": "证照状态变更" },
  state: { under_review: "待审核", returned: "已退回", awaiting_provider: "待提供部门答复", granted: "已同意", refused: "已拒绝",
    escalated: "已提交协调", revoked: "已撤销", ordered: "协调决定" },
  reason: { GRANTED: "依据已批准的数据需求提供", NOT_SHARED: "该数据依法不予共享", REQUIREMENT_NOT_GRANTED: "数据需求尚未批准",
    REQUIREMENT_REVOKED: "数据需求已被撤销", REQUIREMENT_OF_ANOTHER_DEPARTMENT: "数据需求不属于本部门", PURPOSE_NOT_COVERED: "办理事项不在批准范围内",
    CASE_NUMBER_MISSING: "未填写办件编码", DATA_ITEM_NOT_APPROVED: "所调数据项未获批准", SCOPE_MISMATCH: "超出批准的地域范围", DATA_STALE: "数据已超过更新时限" },
};
// Level titles as the API document words them ("LEVEL_PROVINCIAL: … (省级) department").
function learnLevels(spec) {
  const d = ((spec.definitions || {})["gxhub.admin.v1.Level"] || {}).description || "";
  for (const m of d.matchAll(/LEVEL_([A-Z]+):[^(\n]*\(([^)]+)\)/g)) LABELS.level[m[1]] = m[2];
}
const enumKey = (v, prefix) => String(v || "").replace(new RegExp("^" + prefix + "_"), "");
const roleText = (roles) => (roles || []).map((r) => LABELS.role[enumKey(r, "ROLE")] || "其他").join("、");
const levelText = (l) => LABELS.level[enumKey(l, "LEVEL")] || "—";
const label = (kind, v) => (v == null || v === "" ? "—" : LABELS[kind][v] || "其他");
// A department by name, its 统一社会信用代码 on hover.
function deptCell(code) {
  if (!code) return "—";
  const d = state.depts[code];
  return el("span", { class: "dept", title: "统一社会信用代码 " + code }, d ? d.name : "未登记部门");
}
function resourceCell(code) {
  if (!code) return "—";
  const r = state.resources[code];
  return el("span", { class: "nowrap", title: "资源代码 " + code }, r ? r.name : code);
}
function itemTitles(resource, names) {
  const r = state.resources[resource];
  return (names || []).map((n) => ((r && r.items || []).find((i) => i.name === n) || {}).title || n).join("、");
}
async function loadDirectory() {
  try {
    for (const d of firstArray(await api("GET", "/v1/departments?page_size=500")) || []) state.depts[d.code] = d;
  } catch (e) { /* names fall back */ }
  try {
    for (const r of firstArray(await api("GET", "/v1/resources?page_size=500")) || []) state.resources[r.code] = r;
  } catch (e) { /* codes fall back */ }
}
// An audit outcome as a sentence: "已提供：依据已批准的数据需求提供".
function outcomeText(outcome, reason) {
  const code = (String(reason || "").match(/^([A-Z][A-Z_]+)\b/) || [])[1];
  const why = code ? LABELS.reason[code] || "" : "";
  const head = { granted: "已提供", ok: "已完成", denied: "已拒绝", failed: "未完成" }[outcome] || "已记录";
  return why ? head + "：" + why : head;
}

// ---- one time format: Beijing time, the zone said once per page ----
const TZ_LABEL = "北京时间";
function bj(t) { const d = new Date(new Date(t).getTime() + 8 * 3600e3); return { y: d.getUTCFullYear(), m: d.getUTCMonth() + 1, d: d.getUTCDate(), h: d.getUTCHours(), mi: d.getUTCMinutes(), s: d.getUTCSeconds(), ms: d.getUTCMilliseconds(), wd: d.getUTCDay() }; }
const pad2 = (n) => String(n).padStart(2, "0");
function fmtTime(t) {
  if (!t) return "—";
  const p = bj(t);
  return p.y + "-" + pad2(p.m) + "-" + pad2(p.d) + " " + pad2(p.h) + ":" + pad2(p.mi);
}
const WEEKDAY = "日一二三四五六";
// A working-day deadline: 00:00 Beijing is the end of the day before ("截止 12月7日（周一）下班前").
function fmtDeadline(t) {
  if (!t) return "—";
  const p = bj(t);
  if (p.h === 0 && p.mi === 0 && p.s === 0 && p.ms === 0) {
    const q = bj(new Date(t).getTime() - 86400e3);
    return "截止 " + q.m + "月" + q.d + "日（周" + WEEKDAY[q.wd] + "）下班前";
  }
  return "截止 " + fmtTime(t);
}
// Working time (24 h per working day) rounded: "1 个工作日 3 小时", "5 小时", "不到 1 小时".
function fmtWorking(d) {
  const sec = parseFloat(String(d || "0").replace(/s$/, ""));
  if (!isFinite(sec)) return "—";
  const h = Math.round(sec / 3600);
  if (h < 1) return "不到 1 小时";
  const days = Math.floor(h / 24), hours = h % 24;
  return (days ? days + " 个工作日" : "") + (days && hours ? " " : "") + (hours ? hours + " 小时" : "");
}
// The zone, once per page: in the heading of the time column.
const timeCol = (name) => name + "（" + TZ_LABEL + "）";

// ---- errors in plain Chinese; the technical detail folded away ----
function plainError(e) {
  const r = e && e.reason;
  if (r === "REQUEST_UNSIGNED" || /^SESSION_/.test(r || "") || e.status === 401)
    return "尚未登录或登录已过期。请在保存本部门身份目录的电脑上运行“gxctl --identity 部门身份目录 web”，打开它给出的登录链接。";
  if (/_REQUIRED$/.test(r || "") || e.status === 403) return "本部门没有查看此内容所需的权限（如审计、协调角色）。请由具有相应角色的部门登录查看。";
  if (e.status === 404) return "没有找到要查询的内容，请核对后重试。";
  if (e.status === 400 || e.status === 409 || e.status === 412) return "输入的内容不符合要求，请核对后重试。";
  return "暂时无法完成，请稍后重试；如仍不行，请联系中心运维人员。";
}
// errorBox shows the plain sentence, with the reason and message for the operator folded.
function errorBox(id, prefix, e) {
  const box = el("div", { class: "notice bad", id: id }, prefix + plainError(e));
  if (e && (e.reason || e.message)) box.append(details([(e.reason || "") + (e.status ? " (HTTP " + e.status + ")" : ""), e.message || ""]));
  return box;
}
function details(lines) {
  const d = el("details", { class: "tech" }, el("summary", { text: "技术信息（供运维人员）" }));
  for (const l of lines) if (l) d.append(el("div", { class: "mono", text: l }));
  return d;
}
// setSource folds the API a page reads into the technical details of its notice.
function setSource(id, cls, text, path) {
  const n = $(id);
  n.className = "notice " + cls;
  n.replaceChildren(text);
  if (path) n.append(details(["接口 " + path]));
}

// ---- API discovery from the OpenAPI document ----
async function loadSpec() {
  try {
    const r = await fetch("/openapi.json");
    const spec = await r.json();
    learnLevels(spec);
    for (const [p, item] of Object.entries(spec.paths || {})) {
      for (const [m, op] of Object.entries(item)) {
        state.ops.push({ method: m.toUpperCase(), path: p, id: op.operationId || "", params: (op.parameters || []).map((x) => x.name) });
      }
    }
  } catch (e) { /* no spec: every page degrades */ }
}
const findOp = (pred) => state.ops.find(pred);
function fillPath(p, vals) { return p.replace(/\{([^}]+)\}/g, (_, k) => encodeURIComponent(vals[k] || "")); }
function setNotice(id, cls, text) { const n = $(id); n.className = "notice " + cls; n.textContent = text; }

// ---- generic table ----
function fmt(v) {
  if (v == null) return "";
  if (Array.isArray(v)) return v.map(fmt).join(", ");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}
function table(rows, cols, rowClass) {
  const t = el("table");
  t.append(el("thead", {}, el("tr", {}, ...cols.map((c) => el("th", { text: c.label || c.key })))));
  const tb = el("tbody");
  for (const r of rows) {
    const tr = el("tr", { class: rowClass ? rowClass(r) : "" });
    for (const c of cols) {
      const v = c.render ? c.render(r) : fmt(r[c.key]);
      tr.append(el("td", { class: c.mono ? "mono" : "" }, v));
    }
    tb.append(tr);
  }
  t.append(tb);
  return t;
}
function autoTable(items) {
  const keys = [];
  for (const it of items.slice(0, 20)) for (const k of Object.keys(it)) if (!keys.includes(k)) keys.push(k);
  return table(items, keys.slice(0, 12).map((k) => ({ key: k })));
}
function firstArray(obj) {
  if (Array.isArray(obj)) return obj;
  for (const v of Object.values(obj || {})) if (Array.isArray(v)) return v;
  return null;
}
function download(name, type, text) {
  const a = el("a", { href: URL.createObjectURL(new Blob([text], { type })), download: name });
  document.body.append(a); a.click(); a.remove();
}

// ---- session ----
async function whoami() {
  try {
    state.me = await api("GET", "/v1/whoami");
    const d = state.me.department || state.me;
    const who = $("who");
    who.textContent = (d.name || "") + (d.roles && d.roles.length ? " · " + roleText(d.roles) : "");
    who.title = "统一社会信用代码 " + (d.code || "") + " · " + levelText(d.level);
    who.dataset.code = d.code || "";
    $("logout").hidden = false;
    return true;
  } catch (e) {
    $("who").textContent = "未登录";
    $("signed-out").hidden = false;
    $("signed-out-why").replaceChildren(errorBox("signed-out-error", "", e));
    return false;
  }
}
async function logout() {
  try { await api("POST", "/ui/logout"); } catch (e) { /* ignore */ }
  location.replace("/ui/login");
}

// ---- router ----
const loaders = {};
function route() {
  const page = (location.hash || "#verify").slice(1).split("?")[0] || "verify";
  for (const s of document.querySelectorAll(".page")) s.hidden = s.id !== "page-" + page;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === page);
  if (loaders[page]) loaders[page]();
}

// ---- 1. verification ----
// VerifyService.Verify (POST /v1/verify) takes files and e-certificate or presentation
// tokens alike: {name, content: base64}.
function verifyOp() {
  return findOp((o) => o.method === "POST" && (o.path === "/v1/verify" || /VerifyService_Verify$/.test(o.id)));
}
const tokenOp = verifyOp;
function b64bytes(b) { let s = ""; for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000)); return btoa(s); }
loaders.verify = function () {
  const op = verifyOp();
  setNotice("verify-api", "info", op
    ? "文件经中心校验接口 " + op.path + " 校验（每次校验记入审计日志）。Files are verified by the hub's API " + op.path + " (each verification is audited)."
    : "此中心尚无证照/印章校验 API：文件由本页服务端调用内置校验库 certs/verify 校验（未配置信任根时证书链显示为“未知”）。This hub has no verification API yet; files are checked server-side by the built-in certs/verify library.");
  const top = tokenOp();
  setNotice("token-api", top ? "info" : "warn", top ? "令牌经 " + top.path + " 校验。" : "此中心尚无电子证照/亮证令牌校验 API，暂不能校验令牌。This hub has no e-certificate verify API yet.");
  $("verify-token").disabled = !top;
};
async function verifyFile(file) {
  const out = $("verify-result");
  out.replaceChildren(el("div", { class: "notice info", text: "正在校验 Verifying " + file.name + " …" }));
  try {
    const buf = await file.arrayBuffer();
    const op = verifyOp();
    let rep;
    if (op) {
      rep = await api("POST", op.path, JSON.stringify({ name: file.name, content: b64bytes(new Uint8Array(buf)) }), { "Content-Type": "application/json" });
      rep = rep.report || rep;
    } else {
      const q = new URLSearchParams({ name: file.name });
      const at = $("verify-at").value;
      if (at) q.set("at", new Date(at).toISOString().replace(/\.\d+Z$/, "Z"));
      rep = await api("POST", "/ui/api/verify?" + q, buf, { "Content-Type": "application/octet-stream" });
    }
    renderReport(rep, file.name);
  } catch (e) {
    out.replaceChildren(el("div", { class: "notice bad", id: "verify-error", text: "无法校验 Cannot verify: " + errText(e) }));
  }
}
const statusText = { pass: "✓ 通过 pass", fail: "✗ 失败 fail", unknown: "? 未确认 unknown", unsupported: "⊘ 无法校验 unsupported", note: "· 说明 note" };
// The verdict banner: Chinese first, green only for VALID.
const verdictText = {
  VALID: "✓ 有效 VALID",
  INTACT: "◐ 签名完整，信任未确认 INTACT",
  INVALID: "✗ 无效 INVALID",
  UNSUPPORTED: "⊘ 无法校验 UNSUPPORTED",
};
const verdictHelp = {
  VALID: "所有检查均通过：签名完整、证书链可信、吊销及登记状态已核验。Every check passed: signatures, trust chain, revocation and registry status.",
  INTACT: "签名与覆盖范围完整，但以下信任、吊销或状态无法确认，不能仅凭此认定真实有效。The signatures hold, but what is listed below could not be established: do not treat it as authentic on this alone.",
  INVALID: "至少一项检查未通过，文件或令牌不可采信。A check failed: do not rely on it.",
  UNSUPPORTED: "含有本系统无法校验的签名或无法识别的签署人。It carries a signature this verifier cannot check, or a signer it cannot identify.",
};
function renderReport(rep, name) {
  const out = $("verify-result");
  const word = String(rep.verdict || "").toUpperCase();
  const failed = (rep.checks || []).filter((c) => c.status === "fail");
  const open = (rep.checks || []).filter((c) => c.status === "unknown" || c.status === "unsupported");
  const v = el("div", { class: "verdict " + word.toLowerCase(), id: "verdict", "data-verdict": word },
    verdictText[word] || word, el("small", { text: "  " + name + " · " + (rep.kind || "") }));
  const parts = [v, el("p", { class: "small", id: "verdict-help", text: verdictHelp[word] || "" })];
  if (rep.summary) parts.push(el("p", { class: "small en", id: "verdict-summary", text: rep.summary }));
  if (failed.length) parts.push(el("div", { class: "notice bad", id: "failed-checks" }, "未通过的检查 Failed checks: " + failed.map((c) => c.name).join(", ")));
  if (open.length) parts.push(el("div", { class: "notice warn", id: "open-checks" }, "未能确认的检查 Not established: " + open.map((c) => c.name).join(", ")));
  if ((rep.signed || []).length) {
    parts.push(el("h2", { text: "签章与证照 Signatures and licences" }));
    parts.push(table(rep.signed, [
      { key: "scope", label: "位置 Scope", mono: true },
      { key: "type", label: "类型 Type" },
      { key: "signer", label: "签章人 Signer" },
      { label: "印章/证照 Seal or licence", render: (s) => [s.seal_name, s.seal_id].filter(Boolean).join(" · ") },
      { key: "seal_vendor", label: "厂商 Vendor" },
      { label: "签章时间 Signing time", render: (s) => (s.signing_time ? new Date(s.signing_time).toLocaleString("zh-CN") + " (" + (s.signing_time_source || "") + ")" : "—") },
      { label: "印章有效期 Seal validity", render: (s) => (s.seal_valid_from ? s.seal_valid_from.slice(0, 10) + " – " + (s.seal_valid_to || "").slice(0, 10) : "") },
    ]));
  }
  parts.push(el("h2", { text: "检查项 Checks (" + (rep.checks || []).length + ")" }));
  const t = table(rep.checks || [], [
    { label: "状态 Status", render: (c) => el("span", { class: "st " + c.status, text: statusText[c.status] || c.status }) },
    { key: "name", label: "检查 Check", mono: true },
    { key: "scope", label: "位置 Scope", mono: true },
    { key: "reason", label: "说明 Reason" },
  ], (c) => c.status);
  t.id = "checks";
  parts.push(t);
  parts.push(el("p", { class: "small en", text: "校验时间 Verified at " + (rep.verified_at || "") }));
  out.replaceChildren(...parts);
}
async function verifyToken() {
  const op = tokenOp(), out = $("verify-result"), tok = $("token").value.trim();
  if (!op || !tok) return;
  out.replaceChildren(el("div", { class: "notice info", text: "正在校验令牌 Verifying the token …" }));
  try {
    const rep = await api("POST", op.path, JSON.stringify({ name: "token", content: b64bytes(new TextEncoder().encode(tok)) }), { "Content-Type": "application/json" });
    const r = rep.report || rep;
    if (r.checks || r.verdict) renderReport(r, r.kind === "ecert_presentation" ? "亮证令牌 presentation" : "电子证照 e-certificate");
    else out.replaceChildren(el("div", { class: "notice bad", id: "verify-error", text: "无法校验 Cannot verify: the hub answered without a report" }));
  } catch (e) {
    out.replaceChildren(el("div", { class: "notice bad", id: "verify-error", text: "无法校验 Cannot verify: " + errText(e) }));
  }
}

// ---- 2. audit trace ----
// AuditService.SearchRecords: POST /v1/audit/records:search keeps an ID number out of
// URLs and access logs.
function searchOp() {
  return findOp((o) => o.method === "POST" && o.path === "/v1/audit/records:search");
}
let traceHead = null;
loaders.trace = async function () {
  const op = searchOp();
  if (op) setSource("trace-api", "info", "按条件检索审计记录（需审计或协调角色）。身份证号由中心加密比对，不保存、不显示；每条记录都在本浏览器中重新核验其已签名的存证。", op.path);
  else setNotice("trace-api", "warn", "此中心尚无审计检索 API：显示最近 200 条记录并在浏览器中按部门、案件号、资源和时间筛选（数据主体以 HMAC 存储，无法在浏览器中按主体筛选）。包含证明在浏览器中用 SM3 重新计算。This hub has no audit search API yet: the latest 200 records are filtered in the browser.");
  try {
    const [info, head] = await Promise.all([api("GET", "/v1/audit/log"), api("GET", "/v1/audit/head")]);
    traceHead = head;
    $("trace-head").replaceChildren(el("dl", { class: "kv" },
      el("dt", { text: "存证记录数" }), el("dd", { id: "head-size", "data-size": head.tree_size, text: head.tree_size + " 条（截至 " + fmtTime(head.time) + " " + TZ_LABEL + "，由中心签名）" }),
      el("dt", { text: "核验方式" }), el("dd", { text: "每条记录在本浏览器中用 SM3 重算到已签名的存证根；签名可用中心公钥离线核验。" })),
      details(["日志 " + info.log_id, "树根 " + GXSM3.hex(GXSM3.b64(head.root_hash)), "密钥 " + head.key_id]));
  } catch (e) {
    $("trace-head").replaceChildren(errorBox("trace-head-error", "无法读取存证信息：", e));
  }
};
async function runTrace(ev) {
  ev.preventDefault();
  const f = Object.fromEntries(new FormData($("trace-form")).entries());
  const out = $("trace-result");
  out.replaceChildren(el("div", { class: "notice info", text: "查询中 Searching…" }));
  try {
    let recs = [];
    const op = searchOp();
    if (op) {
      const body = {};
      for (const k of ["subject", "department", "case_number", "resource"]) if (f[k]) body[k] = f[k].trim();
      if (f.from) body.from = new Date(f.from + "T00:00:00+08:00").toISOString();
      if (f.to) body.to = new Date(f.to + "T23:59:59+08:00").toISOString();
      let token = "";
      do {
        const page = await api("POST", op.path, JSON.stringify(Object.assign({ page_size: 500, page_token: token }, body)), { "Content-Type": "application/json" });
        recs = recs.concat(page.records || []);
        token = page.next_page_token || "";
      } while (token && recs.length < 5000);
    } else {
      if (f.subject) { out.replaceChildren(el("div", { class: "notice warn", id: "trace-noapi", text: "按数据主体检索需要中心的审计检索 API（尚无）。Searching by subject needs the hub's audit search API, which this hub does not have yet." })); return; }
      const info = await api("GET", "/v1/audit/log");
      const size = Number(info.size || 0);
      const idx = []; for (let i = size - 1; i >= 0 && idx.length < 200; i--) idx.push(i);
      const got = await pool(idx, 4, (i) => api("GET", "/v1/audit/records/" + i).catch((e) => ({ index: i, _error: errText(e) })));
      const from = f.from ? new Date(f.from + "T00:00:00+08:00") : null, to = f.to ? new Date(f.to + "T23:59:59+08:00") : null;
      recs = got.filter((r) => !r._error &&
        (!f.department || r.department === f.department) && (!f.case_number || r.case_number === f.case_number) &&
        (!f.resource || (r.resource || "").includes(f.resource)) &&
        (!from || new Date(r.time) >= from) && (!to || new Date(r.time) <= to));
      const refused = got.filter((r) => r._error);
      if (refused.length) out.dataset.refused = refused.length;
    }
    await pool(recs, 4, async (r) => { r._proof = await checkProof(r); });
    state.trace = recs;
    renderTrace(recs);
  } catch (e) {
    out.replaceChildren(errorBox("trace-error", "查询失败：", e));
  }
}
async function pool(items, n, fn) {
  const out = new Array(items.length); let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) { const i = next++; out[i] = await fn(items[i]); }
  }));
  return out;
}
async function checkProof(r) {
  try {
    const p = await api("GET", "/v1/audit/records/" + r.index + "/proof");
    const leaf = GXSM3.b64(p.leaf);
    if (r.leaf && GXSM3.hex(GXSM3.b64(r.leaf)) !== GXSM3.hex(leaf)) return { ok: false, why: "存证与记录不一致" };
    const res = GXSM3.verifyInclusion(Number(p.index), Number(p.head.tree_size), leaf, (p.hashes || []).map(GXSM3.b64), GXSM3.b64(p.head.root_hash));
    res.size = p.head.tree_size; res.headTime = p.head.time;
    return res;
  } catch (e) { return { ok: false, why: "无法取得存证：" + plainError(e) }; }
}
function renderTrace(recs) {
  const out = $("trace-result");
  $("export-csv").disabled = $("export-json").disabled = recs.length === 0;
  if (!recs.length) { out.replaceChildren(el("div", { class: "notice warn", id: "trace-empty", text: "没有符合条件的记录。" })); return; }
  const t = table(recs, [
    { key: "index", label: "序号" },
    { label: timeCol("时间"), render: (r) => fmtTime(r.time) },
    { label: "事项类型", render: (r) => label("kind", r.kind) },
    { label: "部门", render: (r) => deptCell(r.department) },
    { label: "数据资源", render: (r) => resourceCell(r.resource) },
    { key: "matter", label: "事项编码", mono: true },
    { key: "case_number", label: "办件编码", mono: true },
    { label: "结果", render: (r) => outcomeText(r.outcome, r.reason) },
    { label: "存证核验", render: (r) => el("span", { class: "st proof " + (r._proof.ok ? "pass" : "fail"), title: r._proof.ok ? "已签名存证共 " + r._proof.size + " 条" : "",
        text: r._proof.ok ? "✓ 已核验" : "✗ " + r._proof.why }) },
  ]);
  t.id = "trace-table";
  out.replaceChildren(el("p", { class: "small", text: "共 " + recs.length + " 条记录" }), t);
}
function exportRows() {
  return state.trace.map((r) => ({ index: r.index, time: r.time, kind: r.kind, department: r.department, operator: r.operator, resource: r.resource,
    data_items: (r.data_items || []).join(";"), matter: r.matter, case_number: r.case_number, outcome: r.outcome, reason: r.reason,
    proof_verified_in_browser: r._proof.ok, proof_tree_size: r._proof.size || "", proof_problem: r._proof.why || "" }));
}
function exportCSV() {
  const rows = exportRows(); const cols = Object.keys(rows[0]);
  const q = (v) => { const s = String(v == null ? "" : v); return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; };
  download("gxhub-trace.csv", "text/csv;charset=utf-8", "\ufeff" + [cols.join(","), ...rows.map((r) => cols.map((c) => q(r[c])).join(","))].join("\r\n"));
}
function exportJSON() {
  download("gxhub-trace.json", "application/json", JSON.stringify({ head: traceHead, records: exportRows() }, null, 2));
}

// ---- 3. catalogue ----
loaders.catalog = async function () {
  const op = findOp((o) => o.method === "GET" && o.path === "/v1/resources") ||
    findOp((o) => o.method === "GET" && /^\/v1\/(catalog|resources)/.test(o.path) && !/\{/.test(o.path));
  if (!op) setNotice("catalog-api", "warn", "此中心尚无资源目录 API。This hub has no catalogue API yet.");
  else {
    setSource("catalog-api", "info", "各部门登记的政务数据资源：共享方式、更新周期和数据项。", op.path);
    try {
      const q = new URLSearchParams({ page_size: "500" });
      const items = firstArray(await api("GET", op.path + "?" + q)) || [];
      for (const r of items) state.resources[r.code] = r;
      const t = items.length ? table(items, [
        { key: "code", label: "资源代码", mono: true }, { key: "name", label: "名称" }, { label: "提供部门", render: (r) => deptCell(r.provider) },
        { label: "共享方式", render: (r) => label("share", r.share_type) },
        { label: "共享条件 / 不予共享的依据", render: (r) => (r.legal_basis && r.legal_basis.citation) || r.condition || "" },
        { label: "更新周期", render: (r) => label("cycle", r.update_cycle) },
        { label: "更新时限", render: (r) => (r.freshness_limit || 1) + " 个工作日" },
        { label: "数据项", render: (r) => (r.items || []).map((x) => x.title || x.name).join("、") },
        { key: "version", label: "版本" }, { label: "已发布数据", render: (r) => (r.published ? "是" : "否") },
      ]) : el("p", { text: "目录为空。" });
      t.id = "catalog-table";
      $("catalog-result").replaceChildren(t);
    } catch (e) { $("catalog-result").replaceChildren(errorBox("catalog-error", "无法读取资源目录：", e)); }
  }
  try {
    const ds = firstArray(await api("GET", "/v1/departments?page_size=500")) || [];
    for (const d of ds) state.depts[d.code] = d;
    const t = table(ds, [{ key: "name", label: "部门名称" }, { key: "code", label: "统一社会信用代码", mono: true },
      { label: "层级", render: (d) => levelText(d.level) }, { key: "region", label: "行政区划", mono: true }, { label: "角色", render: (d) => roleText(d.roles) }]);
    t.id = "dept-table";
    $("dept-result").replaceChildren(t);
  } catch (e) { $("dept-result").replaceChildren(errorBox("dept-error", "无法读取部门名录：", e)); }
};

// ---- 4. freshness ----
function freshnessState(r) {
  if (r.status === "not_shared") return el("span", { class: "st unknown", text: "— 不予共享，无需更新" });
  if (r.status === "never_published") return el("span", { class: "st fail", text: "✗ 逾期：从未发布数据" });
  if (r.stale && r.status) return el("span", { class: "st fail", text: "✗ 逾期：无法按工作日历计算", title: "工作日历未覆盖该时段" });
  return el("span", { class: "st " + (r.stale ? "fail" : "pass"), text: (r.stale ? "✗ 逾期" : "✓ 正常") + (r.provisional ? " · ⚠ 按暂定日历" : "") });
}
loaders.freshness = async function () {
  const op = findOp((o) => o.method === "GET" && o.path === "/v1/freshness") ||
    findOp((o) => o.method === "GET" && /fresh|liveness|overdue/i.test(o.path + o.id) && !/\{/.test(o.path));
  if (!op) {
    setNotice("freshness-api", "warn", "此中心尚无数据鲜度 API，无法显示各资源的更新情况。This hub has no freshness API yet.");
    $("freshness-result").replaceChildren();
    return;
  }
  setSource("freshness-api", "info", "各资源距上次更新已过的工作时间，按官方工作日历计算（周末、节假日不计）。", op.path);
  try {
    const resp = await api("GET", op.path);
    const items = resp.resources || firstArray(resp) || [];
    const stale = items.filter((r) => r.stale).length;
    const summary = el("div", { class: "notice " + (stale ? "bad" : "ok"), id: "freshness-summary", "data-total": items.length, "data-stale": stale },
      "共 " + items.length + " 个资源，逾期 " + stale + " 个" + (resp.as_of ? "（截至 " + fmtTime(resp.as_of) + " " + TZ_LABEL + "）" : ""));
    const t = items.length ? table(items, [
      { label: "状态", render: freshnessState },
      { label: "数据资源", render: (r) => resourceCell(r.resource) }, { label: "提供部门", render: (r) => deptCell(r.provider) },
      { label: timeCol("最近更新"), render: (r) => (r.last_update ? fmtTime(r.last_update) : "从未") },
      { label: "已过工作时间", render: (r) => (r.last_update ? fmtWorking(r.working_age) : "—") },
      { label: "更新时限", render: (r) => r.limit_working_days + " 个工作日" },
    ], (r) => (r.stale ? "fail" : "")) : el("p", { text: "没有资源。" });
    t.id = "freshness-table";
    $("freshness-result").replaceChildren(summary, t);
  } catch (e) { $("freshness-result").replaceChildren(errorBox("freshness-error", "无法读取数据鲜度：", e)); }
};

// ---- 5. who used my data ----
// AuditService.SubjectUsage: POST /v1/audit/subject-usage, coordinator or auditor role,
// acting for a holder the department has authenticated; the lookup is itself audited.
function subjectOp() {
  return findOp((o) => o.method === "POST" && o.path === "/v1/audit/subject-usage");
}
loaders.mydata = function () {
  const op = subjectOp();
  if (op) setSource("mydata-api", "info", "需协调或审计角色。", op.path);
  else setNotice("mydata-api", "warn", "此中心尚无按数据主体查询使用情况的 API，暂不能查询。This hub has no subject-usage API yet.");
  $("mydata-run").disabled = !op;
};
async function runMyData(ev) {
  ev.preventDefault();
  const op = subjectOp(), out = $("mydata-result");
  if (!op) return;
  const f = Object.fromEntries(new FormData($("mydata-form")).entries());
  out.replaceChildren(el("div", { class: "notice info", text: "查询中…" }));
  try {
    let uses = [], token = "", lookups = [];
    do {
      const page = await api("POST", op.path, JSON.stringify({ subject: f.subject.trim(), holder_reference: f.holder_reference.trim(), page_size: 500, page_token: token }), { "Content-Type": "application/json" });
      uses = uses.concat(page.uses || []);
      lookups.push(page.lookup_index);
      token = page.next_page_token || "";
    } while (token && uses.length < 5000);
    const note = el("div", { class: "notice info", id: "mydata-lookup" }, "本次查询已记入审计日志（记录序号 " + lookups.join("、") + "）。");
    const t = uses.length ? table(uses, [
      { label: timeCol("时间"), render: (r) => fmtTime(r.time) },
      { label: "使用部门", render: (r) => el("span", { class: "dept", title: "统一社会信用代码 " + r.department }, r.department_name || (state.depts[r.department] || {}).name || "未登记部门") },
      { label: "方式", render: (r) => label("kind", r.kind) }, { label: "数据资源", render: (r) => resourceCell(r.resource) },
      { label: "数据项", render: (r) => itemTitles(r.resource, r.data_items) },
      { key: "matter", label: "事项编码", mono: true }, { key: "case_number", label: "办件编码", mono: true },
      { label: "结果", render: (r) => outcomeText(r.outcome, r.reason) },
    ]) : el("p", { id: "mydata-none", text: "没有使用此数据主体数据的记录。" });
    if (uses.length) t.id = "mydata-table";
    out.replaceChildren(note, t);
  } catch (e) { out.replaceChildren(errorBox("mydata-error", "查询失败：", e)); }
}

// ---- 6. requirements and the working-day calendar ----
// RequirementService.ListRequirements: GET /v1/requirements. A deadline that runs into a
// year whose working-day calendar is not published yet is provisional (statutory holidays
// only) and is recomputed once the coordinator publishes the year.
function deadlineCell(r) {
  if (!r.deadline) return "—";
  // Deadlines are instants in Asia/Shanghai (00:00 after the last working day allowed).
  const when = fmtDeadline(r.deadline);
  if (!r.deadline_provisional) return when;
  return el("span", { class: "st warn", title: "该年度工作日历尚未发布：按法定节假日暂定，发布后自动重算" },
    when + " ⚠ 暂定");
}
loaders.requirements = async function () {
  const op = findOp((o) => o.method === "GET" && o.path === "/v1/requirements");
  if (!op) {
    setNotice("requirements-api", "warn", "此中心尚无数据需求 API。This hub has no requirements API yet.");
    return;
  }
  setSource("requirements-api", "info", "期限按官方工作日历计算（北京时间）；“暂定”期限所在年度的日历尚未发布，发布后自动重算。", op.path);
  try {
    const items = (await api("GET", op.path + "?page_size=500")).requirements || [];
    const t = items.length ? table(items, [
      { key: "id", label: "编号", mono: true }, { label: "状态", render: (r) => label("state", r.state) },
      { label: "办理期限", render: deadlineCell },
      { label: "需求部门", render: (r) => deptCell(r.consumer) }, { label: "提供部门", render: (r) => deptCell(r.provider) },
      { label: "数据资源", render: (r) => resourceCell(r.resource) }, { label: "数据项", render: (r) => itemTitles(r.resource, r.items) },
    ], (r) => (r.deadline_provisional ? "provisional" : "")) : el("p", { text: "没有数据需求。" });
    t.id = "requirements-table";
    $("requirements-result").replaceChildren(t);
  } catch (e) { $("requirements-result").replaceChildren(errorBox("requirements-error", "无法读取数据需求：", e)); }
};

// ---- 7. verification at the counter (核验) ----
// PullService.VerifyData: POST /v1/verifications. The department's granted requirements
// (verify-only ones first) give the items to ask for; the answer is an outcome per item,
// never a value.
const OUTCOMES = { match: "一致", mismatch: "不一致", no_record: "无登记信息" };
function checkOp() { return findOp((o) => o.method === "POST" && o.path === "/v1/verifications"); }
loaders.check = async function () {
  const op = checkOp();
  $("check-run").disabled = !op;
  if (!op) { setNotice("check-api", "warn", "此中心尚无核验接口，暂不能核验。This hub has no verification API yet."); return; }
  setSource("check-api", "info", "需本部门已获批准的数据需求；核验结果由中心签名并记入审计日志。", op.path);
  try {
    const d = state.me.department || state.me;
    const rs = ((await api("GET", "/v1/requirements?page_size=500&state=granted&consumer=" + encodeURIComponent(d.code || ""))).requirements || [])
      .sort((a, b) => Number(!!b.verify_only) - Number(!!a.verify_only));
    state.checkReqs = {};
    $("check-req").replaceChildren(...rs.map((r) => {
      state.checkReqs[r.id] = r;
      return el("option", { value: r.id }, (r.verify_only ? "仅核验 · " : "") + ((state.resources[r.resource] || {}).name || r.resource) + " · " + r.id);
    }));
    checkItems();
  } catch (e) { $("check-result").replaceChildren(errorBox("check-error", "无法读取本部门的数据需求：", e)); }
};
function checkItems() {
  const r = (state.checkReqs || {})[$("check-req").value];
  if (!r) {
    $("check-matter").replaceChildren();
    $("check-items").replaceChildren(el("p", { id: "check-none", text: "本部门没有已获批准的数据需求，不能核验。" }));
    $("check-run").disabled = true;
    return;
  }
  $("check-matter").replaceChildren(...(r.matter_codes || []).map((c) => el("option", { value: c }, c)));
  $("check-items").replaceChildren(...(r.items || []).map((it) =>
    el("label", {}, itemTitles(r.resource, [it]) + " ", el("input", { name: "claim." + it, "data-item": it, autocomplete: "off", placeholder: "申报内容（不核验则留空）" }))));
}
async function runCheck(ev) {
  ev.preventDefault();
  const op = checkOp(), out = $("check-result");
  if (!op) return;
  const f = Object.fromEntries(new FormData($("check-form")).entries());
  const claims = {};
  for (const i of document.querySelectorAll("#check-items input[data-item]")) if (i.value.trim() !== "") claims[i.dataset.item] = i.value;
  if (!Object.keys(claims).length) { out.replaceChildren(el("div", { class: "notice warn", id: "check-error", text: "请至少填写一项申报内容。" })); return; }
  out.replaceChildren(el("div", { class: "notice info", text: "核验中…" }));
  try {
    const resp = await api("POST", op.path, JSON.stringify({ requirement_id: f.requirement_id, matter_code: f.matter_code, case_number: f.case_number.trim(),
      subject: f.subject.trim(), claims }), { "Content-Type": "application/json" });
    const res = resp.result || {};
    const t = table(res.results || [], [
      { label: "数据项", render: (v) => itemTitles(res.resource, [v.item]) },
      { label: "核验结果", render: (v) => el("span", { class: "st " + (v.outcome === "match" ? "ok" : "warn"), "data-outcome": v.outcome }, OUTCOMES[v.outcome] || "其他") },
    ]);
    t.id = "check-table";
    out.replaceChildren(t, el("div", { class: "notice info", id: "check-audit" },
      "核验结果由中心签名，已记入审计日志（记录序号 " + (resp.audit_references || []).join("、") + "）；" + fmtTime(res.as_of) + "（" + TZ_LABEL + "）。"));
  } catch (e) { out.replaceChildren(errorBox("check-error", "核验未完成：", e)); }
}

// The coordinator owns the calendar: from 60 days before the announced years run out its
// pages carry the hub's warning (GET /v1/calendar/years, public).
async function calendarBanner() {
  const d = state.me && (state.me.department || state.me);
  if (!d || !(d.roles || []).some((r) => /COORDINATOR/i.test(String(r)))) return;
  try {
    const y = await api("GET", "/v1/calendar/years");
    const w = y.coverage && y.coverage.warning;
    if (!w) return;
    const b = $("calendar-banner");
    b.textContent = "工作日历预警：" + w;
    b.hidden = false;
  } catch (e) { /* advisory only: the pages work without it */ }
}

// ---- start ----
document.addEventListener("DOMContentLoaded", async () => {
  $("logout").addEventListener("click", logout);
  const drop = $("drop"), file = $("file");
  file.addEventListener("change", () => file.files[0] && verifyFile(file.files[0]));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) verifyFile(e.dataTransfer.files[0]); });
  $("verify-token").addEventListener("click", verifyToken);
  $("trace-form").addEventListener("submit", runTrace);
  $("export-csv").addEventListener("click", exportCSV);
  $("export-json").addEventListener("click", exportJSON);
  $("mydata-form").addEventListener("submit", runMyData);
  $("check-form").addEventListener("submit", runCheck);
  $("check-req").addEventListener("change", checkItems);
  await loadSpec();
  if (!(await whoami())) return;
  await loadDirectory();
  await calendarBanner();
  window.addEventListener("hashchange", route);
  route();
  document.body.dataset.ready = "1";
});
