"use strict";
// Sign-in: the token is in the URL fragment (never sent to servers or logs). Post it once,
// remove it from the address bar and history, then go to the pages.
(async function () {
  const status = document.getElementById("login-status");
  const token = decodeURIComponent(location.hash.replace(/^#/, ""));
  history.replaceState(null, "", location.pathname);
  if (!token) {
    status.className = "notice warn";
    status.textContent = "链接中没有登录令牌。No sign-in token in the link: create one with gxctl web.";
    return;
  }
  try {
    const r = await fetch("/ui/session", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Gxhub-UI": "1" },
      body: JSON.stringify({ token: token }),
    });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) {
      status.className = "notice bad";
      status.textContent = "登录失败 Sign-in refused (" + (body.reason || r.status) + "): " + (body.message || "");
      status.dataset.reason = body.reason || "";
      return;
    }
    status.className = "notice ok";
    status.textContent = "已登录 Signed in: " + body.name + " (" + body.department + ")";
    location.replace("/ui/");
  } catch (e) {
    status.className = "notice bad";
    status.textContent = "无法连接中心 Cannot reach the hub: " + e;
  }
})();
