#!/usr/bin/env python3
"""Deterministic generator of ExchangeRecord NDJSON for Fabric benchmarks.

Each output line is one ExchangeRecord envelope (the shape in docs/formats/pack.md):
exchange_id (uuid), exchange_type, source_system, entity_type, natural_key,
request (object), response (object with nested JSON, roughly 1-2 KB),
observed_at_utc, provenance, content_sha256 (left empty), schema_version,
tags, redactions_applied.

The same --n/--seed/--change-frac always yields byte-identical output.
About 1 record in 16 carries non-ASCII text, some of it in decomposed (NFD)
form, so that NFC normalisation in the canonical hash is exercised.

    python3 gen_exchange.py --n 100000 --seed 42 --out records-100k.ndjson

--change-frac F re-generates a fraction F of the records with a different
response payload and a fresh exchange_id (same natural_key), which models a
re-fetch where some content changed: use it to make a second file for
delta-sync runs against a store filled from the first.
"""
import argparse
import datetime as _dt
import json
import random
import sys
import uuid

SOURCES = [
    ("mediawiki", "wookieepedia", "page"),
    ("openalex", "openalex", "work"),
    ("http", "crossref", "doi"),
    ("llm", "local_llm", "completion"),
]
WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima "
         "mike november oscar papa quebec romeo sierra tango uniform victor whiskey "
         "xray yankee zulu").split()
# Precomposed and decomposed forms: NFC must map the second group onto the first.
UNICODE_BITS = ["caf\u00e9", "cafe\u0301", "na\u00efve", "nai\u0308ve",
                "\u00c5ngstr\u00f6m", "A\u030angstro\u0308m", "\u6771\u4eac", "\u0416\u0443\u043a"]
BASE_TIME = _dt.datetime(2024, 1, 15, 10, 30, 0)


def text(rng, lo, hi, uni):
    ws = [WORDS[rng.randrange(len(WORDS))] for _ in range(rng.randint(lo, hi))]
    if uni:
        ws.insert(rng.randrange(len(ws) + 1), UNICODE_BITS[rng.randrange(len(UNICODE_BITS))])
    return " ".join(ws)


def make_record(i, rng, variant=0):
    etype, source, entity = SOURCES[i % len(SOURCES)]
    uni = (i % 16) == 7
    nk = f"{source}|{entity}|{i:09d}"
    request = {
        "method": "GET",
        "url": f"https://api.example.org/{entity}/{i}",
        "params": {"format": "json", "lang": "en", "page": i % 97, "redirects": True},
        "headers": {"accept": "application/json", "user-agent": "fabric-bench/1.0"},
    }
    n_sections = rng.randint(2, 6)
    sections = []
    for s in range(n_sections):
        sections.append({
            "index": s,
            "heading": text(rng, 1, 4, uni and s == 0),
            "text": text(rng, 12, 30, False),
            "refs": [rng.randrange(1_000_000) for _ in range(rng.randint(0, 5))],
        })
    body = {
        "id": i,
        "title": text(rng, 2, 6, uni),
        "revision": {"rev_id": 10_000_000 + i * 3 + variant, "parent_id": 10_000_000 + i * 3 - 1,
                     "minor": (i % 5) == 0, "comment": text(rng, 3, 8, False)},
        "sections": sections,
        "categories": [text(rng, 1, 2, False) for _ in range(rng.randint(1, 4))],
        "metrics": {"score": round(rng.random(), 4), "views": rng.randrange(10_000_000),
                    "quality": rng.choice(["stub", "start", "b", "ga", "fa"]), "deleted": None},
    }
    response = {
        "status": 200,
        "headers": {"content-type": "application/json; charset=utf-8",
                    "etag": f"W/\"{rng.getrandbits(64):016x}\"", "x-cache": "MISS"},
        "elapsed_ms": rng.randint(5, 900),
        "body": body,
    }
    observed = (BASE_TIME + _dt.timedelta(seconds=i + variant * 86400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    uid = rng.getrandbits(128)
    if variant:
        uid ^= 0x5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A  # a changed record is a new exchange
    return {
        "exchange_id": str(uuid.UUID(int=uid, version=4)),
        "exchange_type": etype,
        "source_system": source,
        "entity_type": entity,
        "natural_key": nk,
        "request": request,
        "response": response,
        "observed_at_utc": observed,
        "provenance": {"runner": "fabric-bench", "host": "bench", "connector_version": "1.0.0"},
        "content_sha256": "",
        "schema_version": 1,
        "tags": [etype, entity],
        "redactions_applied": [],
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, required=True, help="number of records")
    ap.add_argument("--seed", type=int, default=42, help="RNG seed (default 42)")
    ap.add_argument("--out", required=True, help="output NDJSON path, or - for stdout")
    ap.add_argument("--change-frac", type=float, default=0.0,
                    help="fraction of records to regenerate with changed content (default 0)")
    ap.add_argument("--scope", metavar="TYPE,SOURCE,ENTITY",
                    help="put every record in this one scope (a pack takes only its own scope)")
    a = ap.parse_args(argv)
    scope = a.scope.split(",") if a.scope else None
    if scope is not None and len(scope) != 3:
        ap.error("--scope takes TYPE,SOURCE,ENTITY")
    out = sys.stdout if a.out == "-" else open(a.out, "w", encoding="utf-8", newline="\n")
    chg = random.Random(a.seed ^ 0x5EED)
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    buf = []
    for i in range(a.n):
        # One RNG per record keeps record i identical whatever --n is.
        rng = random.Random(a.seed * 1_000_003 + i)
        variant = 1 if (a.change_frac and chg.random() < a.change_frac) else 0
        if variant:
            rng.random()  # shift the stream: different payload, different uuid
        record = make_record(i, rng, variant)
        if scope is not None:
            record["exchange_type"], record["source_system"], record["entity_type"] = scope
        buf.append(dumps(record))
        if len(buf) >= 4096:
            out.write("\n".join(buf) + "\n")
            buf.clear()
    if buf:
        out.write("\n".join(buf) + "\n")
    if out is not sys.stdout:
        out.close()


if __name__ == "__main__":
    main()
