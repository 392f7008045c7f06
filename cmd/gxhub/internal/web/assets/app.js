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
const state = { ops: [], me: null, trace: [] };

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
const errText = (e) => (e.reason ? e.reason + ": " : "") + e.message;

// ---- API discovery from the OpenAPI document ----
async function loadSpec() {
  try {
    const r = await fetch("/openapi.json");
    const spec = await r.json();
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
    $("who").textContent = (d.name || "") + " (" + (d.code || "") + ")" + (d.roles ? " · " + fmt(d.roles) : "");
    $("logout").hidden = false;
    return true;
  } catch (e) {
    $("who").textContent = "未登录 Not signed in";
    $("signed-out").hidden = false;
    $("signed-out-why").textContent = errText(e);
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
  setNotice("trace-api", op ? "info" : "warn", op
    ? "检索经 " + op.path + "（需审计员角色；身份证号由中心做 HMAC-SM3，不存储不记录）；每条记录的包含证明在浏览器中用 SM3 重新计算并与签名树头比对。Search via " + op.path + " (auditor role); each record's inclusion proof is recomputed in this browser."
    : "此中心尚无审计检索 API：显示最近 200 条记录并在浏览器中按部门、案件号、资源和时间筛选（数据主体以 HMAC 存储，无法在浏览器中按主体筛选）。包含证明在浏览器中用 SM3 重新计算。This hub has no audit search API yet: the latest 200 records are filtered in the browser.");
  try {
    const [info, head] = await Promise.all([api("GET", "/v1/audit/log"), api("GET", "/v1/audit/head")]);
    traceHead = head;
    $("trace-head").replaceChildren(el("dl", { class: "kv" },
      el("dt", { text: "日志 Log" }), el("dd", { class: "mono", text: info.log_id }),
      el("dt", { text: "树头 Head" }), el("dd", { class: "mono", id: "head-size", text: "size " + head.tree_size + " · root " + GXSM3.hex(GXSM3.b64(head.root_hash)) }),
      el("dt", { text: "签署 Signed" }), el("dd", { text: new Date(head.time).toLocaleString("zh-CN") + " · key " + head.key_id + "（SM2 树头签名由中心公钥签署，可离线验证 verify offline with the log key）" })));
  } catch (e) {
    $("trace-head").textContent = "无法读取树头 Cannot read the tree head: " + errText(e);
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
    out.replaceChildren(el("div", { class: "notice bad", id: "trace-error", text: "查询失败 Search failed: " + errText(e) }));
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
    if (r.leaf && GXSM3.hex(GXSM3.b64(r.leaf)) !== GXSM3.hex(leaf)) return { ok: false, why: "the proof's leaf differs from the record's leaf" };
    const res = GXSM3.verifyInclusion(Number(p.index), Number(p.head.tree_size), leaf, (p.hashes || []).map(GXSM3.b64), GXSM3.b64(p.head.root_hash));
    res.size = p.head.tree_size; res.headTime = p.head.time;
    return res;
  } catch (e) { return { ok: false, why: errText(e) }; }
}
function renderTrace(recs) {
  const out = $("trace-result");
  $("export-csv").disabled = $("export-json").disabled = recs.length === 0;
  if (!recs.length) { out.replaceChildren(el("div", { class: "notice warn", id: "trace-empty", text: "没有符合条件的记录。No matching records." })); return; }
  const t = table(recs, [
    { key: "index", label: "#" },
    { label: "时间 Time", render: (r) => new Date(r.time).toLocaleString("zh-CN") },
    { key: "kind", label: "类型 Kind" },
    { key: "department", label: "部门 Department", mono: true },
    { key: "resource", label: "资源 Resource" },
    { key: "matter", label: "事项 Matter" },
    { key: "case_number", label: "案件号 Case" },
    { key: "outcome", label: "结果 Outcome" },
    { label: "证明 Proof", render: (r) => el("span", { class: "st proof " + (r._proof.ok ? "pass" : "fail"), title: r._proof.why || "",
        text: r._proof.ok ? "✓ 已在浏览器验证 (size " + r._proof.size + ")" : "✗ " + r._proof.why }) },
  ]);
  t.id = "trace-table";
  out.replaceChildren(el("p", { class: "small", text: recs.length + " 条记录 records" }), t);
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
    setNotice("catalog-api", "info", "来源 Source: " + op.path);
    try {
      const q = new URLSearchParams({ page_size: "500" });
      const items = firstArray(await api("GET", op.path + "?" + q)) || [];
      const t = items.length ? table(items, [
        { key: "code", label: "资源代码 Code", mono: true }, { key: "name", label: "名称 Name" }, { key: "provider", label: "提供部门 Provider", mono: true },
        { key: "share_type", label: "共享类型 Share type" },
        { label: "共享条件/不予共享依据 Condition or legal basis", render: (r) => (r.legal_basis && r.legal_basis.citation) || r.condition || "" },
        { key: "update_cycle", label: "更新周期 Update cycle" },
        { key: "freshness_limit", label: "鲜度上限(工作日) Limit" },
        { label: "数据项 Items", render: (r) => (r.items || []).map((x) => x.name || x.code).join("、") },
        { key: "version", label: "版本 Ver." }, { label: "发布 Published", render: (r) => (r.published ? "是 yes" : "否 no") },
      ]) : el("p", { text: "目录为空 The catalogue is empty." });
      t.id = "catalog-table";
      $("catalog-result").replaceChildren(t);
    } catch (e) { $("catalog-result").replaceChildren(el("div", { class: "notice bad", text: errText(e) })); }
  }
  try {
    const ds = firstArray(await api("GET", "/v1/departments?page_size=200")) || [];
    $("dept-result").replaceChildren(table(ds, [{ key: "code", label: "代码 Code", mono: true }, { key: "name", label: "名称 Name" },
      { key: "level", label: "层级 Level" }, { key: "region", label: "区划 Region" }, { key: "roles", label: "角色 Roles" }]));
  } catch (e) { $("dept-result").replaceChildren(el("div", { class: "notice bad", text: errText(e) })); }
};

// ---- 4. freshness ----
function workingAge(d) {
  const sec = parseFloat(String(d || "0").replace(/s$/, ""));
  if (!isFinite(sec)) return "";
  const h = sec / 3600;
  return h >= 24 ? (h / 24).toFixed(1) + " 天 days" : h.toFixed(1) + " 小时 h";
}
loaders.freshness = async function () {
  const op = findOp((o) => o.method === "GET" && o.path === "/v1/freshness") ||
    findOp((o) => o.method === "GET" && /fresh|liveness|overdue/i.test(o.path + o.id) && !/\{/.test(o.path));
  if (!op) {
    setNotice("freshness-api", "warn", "此中心尚无数据鲜度 API，无法显示各资源的更新情况。This hub has no freshness API yet.");
    $("freshness-result").replaceChildren();
    return;
  }
  setNotice("freshness-api", "info", "来源 Source: " + op.path + " · 工作时间按官方工作日历计算（周末、节假日不计）Working time per the official calendar");
  try {
    const resp = await api("GET", op.path);
    const items = resp.resources || firstArray(resp) || [];
    const stale = items.filter((r) => r.stale).length;
    const summary = el("div", { class: "notice " + (stale ? "bad" : "ok"), id: "freshness-summary" },
      "共 " + items.length + " 个资源，逾期 " + stale + " 个 · " + items.length + " resources, " + stale + " stale" + (resp.as_of ? " · 截至 as of " + new Date(resp.as_of).toLocaleString("zh-CN") : ""));
    const t = items.length ? table(items, [
      { label: "状态 Status", render: (r) => el("span", { class: "st " + (r.stale ? "fail" : "pass"), text: (r.stale ? "✗ 逾期 stale" + (r.status ? " (" + r.status + ")" : "") : "✓ 正常 fresh") +
        (r.provisional ? " · ⚠ 暂定日历 provisional calendar" : "") }) },
      { key: "resource", label: "资源 Resource", mono: true }, { key: "provider", label: "提供部门 Provider", mono: true },
      { label: "最近更新 Last update", render: (r) => (r.last_update ? new Date(r.last_update).toLocaleString("zh-CN") : "从未 never") },
      { label: "工作时间已过 Working age", render: (r) => workingAge(r.working_age) },
      { key: "limit_working_days", label: "上限(工作日) Limit (working days)" },
    ], (r) => (r.stale ? "fail" : "")) : el("p", { text: "没有资源 No resources." });
    t.id = "freshness-table";
    $("freshness-result").replaceChildren(summary, t);
  } catch (e) { $("freshness-result").replaceChildren(el("div", { class: "notice bad", text: errText(e) })); }
};

// ---- 5. who used my data ----
// AuditService.SubjectUsage: POST /v1/audit/subject-usage, coordinator or auditor role,
// acting for a holder the department has authenticated; the lookup is itself audited.
function subjectOp() {
  return findOp((o) => o.method === "POST" && o.path === "/v1/audit/subject-usage");
}
loaders.mydata = function () {
  const op = subjectOp();
  setNotice("mydata-api", op ? "info" : "warn", op ? "来源 Source: " + op.path + "（需协调或审计角色 coordinator or auditor role）"
    : "此中心尚无按数据主体查询使用情况的 API，暂不能查询。This hub has no subject-usage API yet.");
  $("mydata-run").disabled = !op;
};
async function runMyData(ev) {
  ev.preventDefault();
  const op = subjectOp(), out = $("mydata-result");
  if (!op) return;
  const f = Object.fromEntries(new FormData($("mydata-form")).entries());
  out.replaceChildren(el("div", { class: "notice info", text: "查询中 Looking up…" }));
  try {
    let uses = [], token = "", lookups = [];
    do {
      const page = await api("POST", op.path, JSON.stringify({ subject: f.subject.trim(), holder_reference: f.holder_reference.trim(), page_size: 500, page_token: token }), { "Content-Type": "application/json" });
      uses = uses.concat(page.uses || []);
      lookups.push(page.lookup_index);
      token = page.next_page_token || "";
    } while (token && uses.length < 5000);
    const note = el("div", { class: "notice info", id: "mydata-lookup" }, "本次查询已记入审计日志（记录 #" + lookups.join(", #") + "）。This lookup is recorded in the audit log.");
    const t = uses.length ? table(uses, [
      { label: "时间 When", render: (r) => new Date(r.time).toLocaleString("zh-CN") },
      { label: "使用部门 Department", render: (r) => (r.department_name ? r.department_name + " " : "") + r.department },
      { key: "kind", label: "方式 Kind" }, { key: "resource", label: "资源 Resource" }, { key: "data_items", label: "数据项 Data items" },
      { key: "matter", label: "事项 Matter" }, { key: "case_number", label: "案件号 Case" },
      { label: "结果 Outcome", render: (r) => r.outcome + (r.reason ? "（" + r.reason + "）" : "") },
    ]) : el("p", { id: "mydata-none", text: "没有使用记录 No recorded use of this subject's data." });
    if (uses.length) t.id = "mydata-table";
    out.replaceChildren(note, t);
  } catch (e) { out.replaceChildren(el("div", { class: "notice bad", id: "mydata-error", text: "查询失败 Lookup failed: " + errText(e) })); }
}

// ---- 6. requirements and the working-day calendar ----
// RequirementService.ListRequirements: GET /v1/requirements. A deadline that runs into a
// year whose working-day calendar is not published yet is provisional (statutory holidays
// only) and is recomputed once the coordinator publishes the year.
function deadlineCell(r) {
  if (!r.deadline) return "—";
  // Deadlines are instants in Asia/Shanghai (00:00 after the last working day allowed).
  const when = new Date(r.deadline).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai" }) + " 北京时间";
  if (!r.deadline_provisional) return when;
  return el("span", { class: "st warn", title: "该年度工作日历尚未发布：按法定节假日暂定，发布后自动重算 · the year's calendar is not published yet" },
    when + " ⚠ 暂定 provisional");
}
loaders.requirements = async function () {
  const op = findOp((o) => o.method === "GET" && o.path === "/v1/requirements");
  if (!op) {
    setNotice("requirements-api", "warn", "此中心尚无数据需求 API。This hub has no requirements API yet.");
    return;
  }
  setNotice("requirements-api", "info", "来源 Source: " + op.path + " · 期限按官方工作日历计算；“暂定”期限所在年度的日历尚未发布，发布后自动重算 · Deadlines in working days; a provisional one is recomputed when its year is published");
  try {
    const items = (await api("GET", op.path + "?page_size=500")).requirements || [];
    const t = items.length ? table(items, [
      { key: "id", label: "编号 ID", mono: true }, { key: "state", label: "状态 State" },
      { label: "期限 Deadline", render: deadlineCell },
      { key: "consumer", label: "需求部门 Consumer", mono: true }, { key: "provider", label: "提供部门 Provider", mono: true },
      { key: "resource", label: "资源 Resource", mono: true }, { key: "items", label: "数据项 Items" },
    ], (r) => (r.deadline_provisional ? "provisional" : "")) : el("p", { text: "没有数据需求 No requirements." });
    t.id = "requirements-table";
    $("requirements-result").replaceChildren(t);
  } catch (e) { $("requirements-result").replaceChildren(el("div", { class: "notice bad", text: errText(e) })); }
};

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
    b.textContent = "工作日历预警 Working-day calendar: " + w;
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
  await loadSpec();
  if (!(await whoami())) return;
  await calendarBanner();
  window.addEventListener("hashchange", route);
  route();
  document.body.dataset.ready = "1";
});
