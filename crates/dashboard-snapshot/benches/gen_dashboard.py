#!/usr/bin/env python3
"""Write a dashboard scope and oracle results file for N students (default 1M).

    python3 gen_dashboard.py OUT_DIR [--students N] [--resources R]

Same shape as the bench harness's generator (benches/dashboard.rs): a section of N
students over R resources, every oracle ready. Deterministic for given arguments.
Writes OUT_DIR/scope.json and OUT_DIR/oracles.json (about 200 bytes a student).
"""
import argparse
import json
import os


class Lcg:
    def __init__(self, seed):
        self.s = seed

    def next(self):
        self.s = (self.s * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return self.s >> 33

    def pct(self):
        return (self.next() % 1001) / 10.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--students", type=int, default=1_000_000)
    ap.add_argument("--resources", type=int, default=200)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng, n, r = Lcg(42), a.students, a.resources
    scope = {
        "format": "fabric.dashboard.scope/1", "request_token": "req-bench",
        "context": {"type": "section", "id": 1}, "container": {"type": "course"},
        "as_of": "2026-03-16T14:00:00Z",
        "labels": {"course_title": "Bench course", "section_label": "Bench", "scope_label": "Entire Course"},
    }
    with open(os.path.join(a.out, "scope.json"), "w") as f:
        json.dump(scope, f)
    ok = lambda key, payload: {"oracle_key": key, "status": "ok", "payload": payload}
    bins = {}
    for i in range(r):
        per, left = {}, n
        for b in range(100, -1, -10):
            c = left if b == 0 else rng.next() % (left // 4 + 1)
            left -= c
            per[str(b)] = c
        bins[str(1000 + i)] = per
    objectives = [{"objective_id": i, "parent_id": None if i < 20 else i % 20, "title": f"Objective {i}",
                   "numbering_index": i, "numeric_proficiency": None,
                   "proficiency_distribution": {"low": rng.next() % 50, "medium": rng.next() % 50,
                                                "high": rng.next() % 50, "not_enough_data": 3}}
                  for i in range(120)]
    ranges = [f"{k}-{k + 10}" for k in range(0, 100, 10)]
    grades = [{"assessment_id": 5000 + i, "due_at": f"2026-04-{1 + i % 28:02}T00:00:00Z", "minimum": 3.0,
               "median": 61.5, "mean": rng.pct(), "maximum": 100.0, "standard_deviation": 12.25,
               "histogram": {k: rng.next() % 500 for k in ranges},
               "completed_count": rng.next() % n, "total_students": n} for i in range(r // 4)]
    small = [
        ok("scope_resources", {"course_title": "Bench", "scope_label": "All",
                               "items": [{"resource_id": 1000 + i, "title": f"Unit {i}", "resource_type": "container"} for i in range(r)],
                               "pages": [{"resource_id": 5000 + i, "title": f"Quiz {i}", "context_label": f"Unit {i}"} for i in range(r // 4)]}),
        ok("progress_bins", {"total_students": n, "by_resource_bins": bins}),
        ok("schedule_position", {"current_resource_id": 1003, "label": "Unit 3"}),
        ok("objectives_proficiency", {"objectives": objectives}),
        ok("grades", {"grades": grades}),
        ok("recommendation", {"status": "ready", "body": "Review unit 3."}),
    ]
    # The two per-student oracles are written row by row (no 1M-element list in memory).
    with open(os.path.join(a.out, "oracles.json"), "w") as f:
        f.write('{"format": "fabric.dashboard.oracles/1", "results": [')
        f.write(", ".join(json.dumps(x) for x in small))
        f.write(', {"oracle_key": "progress_proficiency", "status": "ok", "payload": [')
        for s in range(n):
            f.write(("," if s else "") + json.dumps({"student_id": 100000 + s, "progress_pct": rng.pct(), "proficiency_pct": rng.pct()}))
        f.write(']}, {"oracle_key": "student_info", "status": "ok", "payload": [')
        for s in range(n):
            day = 1 + rng.next() % 15
            f.write(("," if s else "") + json.dumps({
                "student_id": 100000 + s, "given_name": f"Given{s}", "family_name": f"Family{rng.next() % 997}",
                "email": f"s{s}@example.edu", "last_interaction_at": f"2026-03-{day:02}T10:00:00Z"}))
        f.write("]}]}\n")


if __name__ == "__main__":
    main()
