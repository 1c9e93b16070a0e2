#!/usr/bin/env python3
"""The Python peer of `fabric dashboard export`: the stdlib's json, csv and zipfile
writing the same per-student CSV (student_support_list.csv) from a bundle, Deflate 6.

    python3 peer_export.py BUNDLE.json OUT.zip
"""
import csv, io, json, sys, zipfile

def dec1(x):
    return "" if x is None else f"{x:.1f}"

bundle = json.load(open(sys.argv[1], encoding="utf-8"))
support = bundle["projections"]["student_support"]
with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
    with z.open("student_support_list.csv", "w") as raw:
        out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(["student_id", "student_name", "support_category", "progress_pct",
                    "proficiency_pct", "activity_status", "last_interaction_at"])
        for b in support["buckets"]:
            for s in b["students"]:
                w.writerow([s["student_id"], s["name"], b["id"], dec1(s["progress_pct"]),
                            dec1(s["proficiency_pct"]), "inactive" if s["inactive"] else "active",
                            s["last_interaction_at"] or ""])
        out.flush()
