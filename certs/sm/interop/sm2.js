#!/usr/bin/env node
// SM2 sign/verify with sm-crypto (an independent JavaScript implementation), used by
// certs/sm/interop_node_test.go to cross-check gxhub's SM2 signatures.
//
// Always: DER signatures, SM3 with Z (hash: true), the default user ID.
//
//   node sm2.js keygen                               -> {"privateKey": HEX, "publicKey": "04"+X+Y}
//   node sm2.js sign   --key PRIVHEX --in FILE       -> DER signature, hex, on stdout
//   node sm2.js verify --pub PUBHEX  --in FILE --sig HEX
//                                                    -> "valid" (exit 0) or "invalid" (exit 1)
//   node sm2.js selftest                             -> sign and verify a message (exit 0)
// Usage or input errors exit 2.
'use strict'

const fs = require('fs')

let sm2
try {
  sm2 = require('sm-crypto').sm2
} catch (e) {
  process.stderr.write('sm-crypto is not installed: run certs/sm/interop/setup.sh\n')
  process.exit(2)
}

const OPTS = { der: true, hash: true, userId: '1234567812345678' }

function usage (msg) {
  process.stderr.write(`sm2.js: ${msg}\nusage: node sm2.js keygen | sign --key PRIVHEX --in FILE | verify --pub PUBHEX --in FILE --sig HEX | selftest\n`)
  process.exit(2)
}

function flags (args) {
  const out = {}
  for (let i = 0; i < args.length; i += 2) {
    if (!args[i].startsWith('--') || i + 1 >= args.length) usage(`bad argument ${args[i]}`)
    out[args[i].slice(2)] = args[i + 1]
  }
  return out
}

function readMessage (path) {
  if (!path) usage('--in FILE is required')
  try {
    // a plain Array of bytes: sm-crypto treats a string as UTF-8 text
    return Array.from(fs.readFileSync(path))
  } catch (e) {
    usage(`cannot read ${path}: ${e.message}`)
  }
}

function hex (name, value, len) {
  if (!value || !/^[0-9a-fA-F]+$/.test(value) || (len && value.length !== len)) {
    usage(`--${name} must be ${len ? len + ' ' : ''}hex digits`)
  }
  return value.toLowerCase()
}

const [cmd, ...rest] = process.argv.slice(2)
switch (cmd) {
  case 'keygen': {
    const kp = sm2.generateKeyPairHex()
    process.stdout.write(JSON.stringify({ privateKey: kp.privateKey, publicKey: kp.publicKey }) + '\n')
    break
  }
  case 'sign': {
    const f = flags(rest)
    const key = hex('key', f.key, 64)
    const msg = readMessage(f.in)
    process.stdout.write(sm2.doSignature(msg, key, OPTS) + '\n')
    break
  }
  case 'verify': {
    const f = flags(rest)
    const pub = hex('pub', f.pub, 130)
    const sig = hex('sig', f.sig)
    const msg = readMessage(f.in)
    let ok = false
    try {
      ok = sm2.doVerifySignature(msg, sig, pub, OPTS)
    } catch (e) {
      ok = false // a malformed DER signature is an invalid signature
    }
    process.stdout.write(ok ? 'valid\n' : 'invalid\n')
    process.exit(ok ? 0 : 1)
    break
  }
  case 'selftest': {
    const kp = sm2.generateKeyPairHex()
    const msg = Array.from(Buffer.from('gxhub sm-crypto selftest'))
    const sig = sm2.doSignature(msg, kp.privateKey, OPTS)
    if (!sm2.doVerifySignature(msg, sig, kp.publicKey, OPTS)) {
      process.stderr.write('selftest: own signature does not verify\n')
      process.exit(1)
    }
    msg[0] ^= 1
    if (sm2.doVerifySignature(msg, sig, kp.publicKey, OPTS)) {
      process.stderr.write('selftest: a signature verified over another message\n')
      process.exit(1)
    }
    process.stdout.write('sm-crypto selftest ok\n')
    break
  }
  default:
    usage(`unknown command ${cmd || '(none)'}`)
}
