"""Reads `rootcause scan` output with reference parsers and prints what it
found as one JSON object, for tests/scan.rs:

    formats.py json SCHEMA FILE   every line validated with `jsonschema`
                                  (draft 2020-12): {"lines": N, "errors": [...]}
    formats.py csv FILE           Python's csv module: {"rows": [{...}, ...]}
    formats.py prometheus FILE    prometheus_client's text parser:
                                  {"samples": [[name, {labels}, value], ...]}
"""
import csv
import json
import sys


def check_json(schema_path, path):
    import jsonschema

    with open(schema_path) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors, lines = [], 0
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            lines += 1
            try:
                doc = json.loads(line)
            except ValueError as e:
                errors.append(f"line {n}: not JSON: {e}")
                continue
            for e in validator.iter_errors(doc):
                errors.append(f"line {n}: {e.message} at {list(e.absolute_path)}")
    return {"lines": lines, "errors": errors}


def read_csv(path):
    with open(path, newline="") as f:
        return {"rows": list(csv.DictReader(f))}


def read_prometheus(path):
    from prometheus_client.parser import text_string_to_metric_families

    with open(path) as f:
        text = f.read()
    samples = []
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.append([s.name, dict(s.labels), s.value])
    return {"samples": samples}


def main():
    kind = sys.argv[1]
    if kind == "json":
        out = check_json(sys.argv[2], sys.argv[3])
    elif kind == "csv":
        out = read_csv(sys.argv[2])
    elif kind == "prometheus":
        out = read_prometheus(sys.argv[2])
    else:
        raise SystemExit(f"unknown kind {kind}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
