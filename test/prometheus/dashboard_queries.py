#!/usr/bin/python3
"""Every query of a Grafana dashboard against a real Prometheus.

  dashboard_queries.py lint DASHBOARD          structure: importable, datasource variable used by
                                               every panel, target and annotation
  dashboard_queries.py check DASHBOARD URL     each panel target and annotation query, Grafana's
                                               variables substituted, as an instant query: must be
                                               valid and return at least one finite sample

Prints one line per query ("ok"/"no data"/"invalid" with the panel title); exits 1 if any is not ok.
"""
import json
import math
import sys
import urllib.parse
import urllib.request

# Grafana's built-in and dashboard variables as a test site needs them (1 s scrape interval).
SUBSTITUTIONS = [
    ("$__rate_interval", "20s"),
    ("$__interval", "5s"),
    ("$__range", "10m"),
    ('=~"$deployment"', '=~".*"'),
]


def queries(dash):
    for p in dash.get("panels", []):
        for sub in [p] + p.get("panels", []):
            for t in sub.get("targets", []):
                yield sub.get("title", "?"), t.get("refId", "?"), t.get("expr", "")
    for a in dash.get("annotations", {}).get("list", []):
        if "expr" in a:
            yield "annotation: " + a.get("name", "?"), "-", a["expr"]


def substitute(expr):
    for k, v in SUBSTITUTIONS:
        expr = expr.replace(k, v)
    return expr


def lint(dash):
    problems = []
    for key in ("title", "uid", "panels", "templating", "schemaVersion"):
        if key not in dash:
            problems.append("missing top-level key " + key)
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("no datasource variable of type prometheus named 'datasource'")
    want = {"type": "prometheus", "uid": "${datasource}"}
    for p in dash.get("panels", []):
        if p.get("type") == "row":
            continue
        if p.get("datasource") != want:
            problems.append("panel %r does not use the datasource variable" % p.get("title"))
        if not p.get("targets"):
            problems.append("panel %r has no query" % p.get("title"))
        for t in p.get("targets", []):
            if t.get("datasource") != want or not t.get("expr"):
                problems.append("panel %r target %s: datasource variable or expr missing" % (p.get("title"), t.get("refId")))
    for a in dash.get("annotations", {}).get("list", []):
        if "expr" in a and a.get("datasource") != want:
            problems.append("annotation %r does not use the datasource variable" % a.get("name"))
    ids = [p.get("id") for p in dash.get("panels", [])]
    if len(ids) != len(set(ids)):
        problems.append("panel ids are not unique")
    for v in variables.values():
        for field in ("definition",):
            if v.get("type") == "query" and "$" in v.get(field, ""):
                problems.append("variable %s's query uses a variable" % v.get("name"))
    return problems


def check(dash, url):
    bad = 0
    for title, ref, expr in queries(dash):
        q = substitute(expr)
        if "$" in q:
            print("invalid  %s [%s]: unsubstituted variable in %s" % (title, ref, q))
            bad += 1
            continue
        try:
            with urllib.request.urlopen(url + "/api/v1/query?" + urllib.parse.urlencode({"query": q}), timeout=10) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            body = json.load(e)
        if body.get("status") != "success":
            print("invalid  %s [%s]: %s: %s" % (title, ref, body.get("error", "?"), q))
            bad += 1
            continue
        result = body["data"]["result"]
        finite = [s for s in result if not math.isnan(float(s["value"][1])) and not math.isinf(float(s["value"][1]))]
        if not finite:
            print("no data  %s [%s]: %d series, none finite: %s" % (title, ref, len(result), q))
            bad += 1
            continue
        print("ok       %s [%s]: %d series" % (title, ref, len(finite)))
    return bad


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("lint", "check"):
        sys.exit(__doc__)
    dash = json.load(open(sys.argv[2]))
    if sys.argv[1] == "lint":
        problems = lint(dash)
        for p in problems:
            print(p)
        print("%d panels, %d queries" % (sum(1 for p in dash["panels"] if p.get("type") != "row"), sum(1 for _ in queries(dash))))
        sys.exit(1 if problems else 0)
    sys.exit(1 if check(dash, sys.argv[3]) else 0)


if __name__ == "__main__":
    main()
