#!/usr/bin/env python3
"""Checks a GET /events/{id}/proof answer with nothing but the standard library: python3 check_proof.py < proof.json"""
import hashlib, json, struct, sys

def sha(b): return hashlib.sha256(b).digest()

def entry_json(v):  # the entry's canonical JSON as the server hashes it: keys sorted, non-ASCII and "<>&'+` as \uXXXX
    if isinstance(v, dict): return "{" + ",".join(entry_json(k) + ":" + entry_json(v[k]) for k in sorted(v)) + "}"
    if isinstance(v, list): return "[" + ",".join(map(entry_json, v)) + "]"
    if not isinstance(v, str): return json.dumps(v)
    b = v.encode("utf-16-be"); units = struct.unpack(">%dH" % (len(b) // 2), b)
    short = {0x5C: "\\\\", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x08: "\\b", 0x0C: "\\f"}
    return '"' + "".join(chr(u) if 0x20 <= u < 0x7F and chr(u) not in "\"\\<>&'+`" else short.get(u, "\\u%04X" % u) for u in units) + '"'

p = json.load(sys.stdin)
leaf = json.dumps(p["event"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()  # RFC 8785 for these fields
r = sha(b"\x00" + leaf)
assert r.hex() == p["leafHash"], "the leaf rebuilt from event is not leafHash"
fn, sn = p["index"], p["size"] - 1
for s in map(bytes.fromhex, p["path"]):  # RFC 9162 section 2.1.3.2
    if fn % 2 == 1 or fn == sn:
        r = sha(b"\x01" + s + r)
        while fn % 2 == 0 and fn != 0: fn, sn = fn >> 1, sn >> 1
    else:
        r = sha(b"\x01" + r + s)
    fn, sn = fn >> 1, sn >> 1
e = p["entry"]
assert sn == 0 and r.hex() == e["data"]["root"], "the path does not lead to the entry's root"
body = entry_json({k: e[k] for k in ("action", "actor", "at", "data", "entity", "seq")})
assert hashlib.sha256((e["prevHash"] + body).encode()).hexdigest() == e["hash"], "the entry's hash does not match it"
print("proof holds: event", p["event"]["id"], "is leaf", p["index"], "of", p["size"], "in entry", e["seq"], e["hash"])
