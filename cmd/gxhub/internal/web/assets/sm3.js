"use strict";
// SM3 (GB/T 32905-2016) and RFC 6962 inclusion-proof verification with SM3, so that the
// auditor's browser checks audit proofs itself instead of trusting the hub's word.
var GXSM3 = (function () {
  const IV = [0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e];
  const rotl = (x, n) => { n &= 31; return ((x << n) | (x >>> (32 - n))) >>> 0; };
  const P0 = (x) => (x ^ rotl(x, 9) ^ rotl(x, 17)) >>> 0;
  const P1 = (x) => (x ^ rotl(x, 15) ^ rotl(x, 23)) >>> 0;
  function compress(V, B, off) {
    const W = new Array(68), W1 = new Array(64);
    for (let i = 0; i < 16; i++) {
      W[i] = ((B[off + 4 * i] << 24) | (B[off + 4 * i + 1] << 16) | (B[off + 4 * i + 2] << 8) | B[off + 4 * i + 3]) >>> 0;
    }
    for (let i = 16; i < 68; i++) {
      W[i] = (P1(W[i - 16] ^ W[i - 9] ^ rotl(W[i - 3], 15)) ^ rotl(W[i - 13], 7) ^ W[i - 6]) >>> 0;
    }
    for (let i = 0; i < 64; i++) W1[i] = (W[i] ^ W[i + 4]) >>> 0;
    let [A, Bv, C, D, E, F, G, H] = V;
    for (let j = 0; j < 64; j++) {
      const T = j < 16 ? 0x79cc4519 : 0x7a879d8a;
      const SS1 = rotl((rotl(A, 12) + E + rotl(T, j)) >>> 0, 7);
      const SS2 = (SS1 ^ rotl(A, 12)) >>> 0;
      const FF = j < 16 ? (A ^ Bv ^ C) : ((A & Bv) | (A & C) | (Bv & C));
      const GG = j < 16 ? (E ^ F ^ G) : ((E & F) | (~E & G));
      const TT1 = ((FF >>> 0) + D + SS2 + W1[j]) >>> 0;
      const TT2 = ((GG >>> 0) + H + SS1 + W[j]) >>> 0;
      D = C; C = rotl(Bv, 9); Bv = A; A = TT1;
      H = G; G = rotl(F, 19); F = E; E = P0(TT2);
    }
    return [A ^ V[0], Bv ^ V[1], C ^ V[2], D ^ V[3], E ^ V[4], F ^ V[5], G ^ V[6], H ^ V[7]].map((x) => x >>> 0);
  }
  function sm3(msg) {
    const len = msg.length;
    const padLen = ((len + 9 + 63) >> 6) << 6;
    const B = new Uint8Array(padLen);
    B.set(msg);
    B[len] = 0x80;
    const bits = len * 8;
    const hi = Math.floor(bits / 0x100000000), lo = bits >>> 0;
    for (let i = 0; i < 4; i++) { B[padLen - 8 + i] = (hi >>> (24 - 8 * i)) & 0xff; B[padLen - 4 + i] = (lo >>> (24 - 8 * i)) & 0xff; }
    let V = IV.slice();
    for (let off = 0; off < padLen; off += 64) V = compress(V, B, off);
    const out = new Uint8Array(32);
    V.forEach((w, i) => { out[4 * i] = w >>> 24; out[4 * i + 1] = (w >>> 16) & 0xff; out[4 * i + 2] = (w >>> 8) & 0xff; out[4 * i + 3] = w & 0xff; });
    return out;
  }
  function concat(...parts) {
    const n = parts.reduce((s, p) => s + p.length, 0), out = new Uint8Array(n);
    let o = 0; for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }
  const leafHash = (leaf) => sm3(concat(Uint8Array.of(0), leaf));
  const nodeHash = (l, r) => sm3(concat(Uint8Array.of(1), l, r));
  const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  function b64(s) { const bin = atob(s || ""); const out = new Uint8Array(bin.length); for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i); return out; }
  // RFC 9162 §2.1.3.2: verify that leaf is at index in the tree of size with root.
  function verifyInclusion(index, size, leaf, path, root) {
    if (index >= size) return { ok: false, why: "index " + index + " is outside the tree of size " + size };
    let fn = index, sn = size - 1, r = leafHash(leaf);
    for (const p of path) {
      if (sn === 0) return { ok: false, why: "the proof is longer than the tree allows" };
      if (fn % 2 === 1 || fn === sn) {
        r = nodeHash(p, r);
        if (fn % 2 === 0) { while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); } }
      } else {
        r = nodeHash(r, p);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0) return { ok: false, why: "the proof is shorter than the tree needs" };
    if (hex(r) !== hex(root)) return { ok: false, why: "the computed root " + hex(r).slice(0, 16) + "… differs from the head's root " + hex(root).slice(0, 16) + "…" };
    return { ok: true, root: hex(r) };
  }
  return { sm3, hex, b64, leafHash, verifyInclusion, utf8: (s) => new TextEncoder().encode(s) };
})();
