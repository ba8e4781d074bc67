"""The bench's figures: summaries of repeated runs, ratios to a floor, targets, table and JSON.

Plain functions over numbers (no Ansible, no Docker), shared by bench/deploy.py and bench/fleet.py
and tested in tests/unit/bench/.
"""
import json
import math
import os
import statistics
import tempfile

OPERATORS = {"<=": lambda value, limit: value <= limit, "<": lambda value, limit: value < limit,
             "==": lambda value, limit: value == limit}


def summarize(samples):
    """{runs, median, min, max, samples} of a list of seconds (or counts)."""
    if not samples:
        raise ValueError("no samples to summarize: the measurement never ran")
    return {"runs": len(samples), "median": statistics.median(samples), "min": min(samples),
            "max": max(samples), "samples": list(samples)}


def measurement(key, label, samples, floor=None, unit="s"):
    """One row of the table; `floor` is another measurement (its median divides this median)."""
    row = {"key": key, "label": label, "unit": unit, **summarize(samples), "floor": None, "ratio": None}
    if floor is not None:
        row["floor"] = floor["key"]
        row["ratio"] = row["median"] / floor["median"] if floor["median"] > 0 else math.inf
    return row


def target(issue, what, value, op, limit, unit):
    """A target and its verdict: PASS when `value op limit` holds, else ABOVE."""
    if op not in OPERATORS:
        raise ValueError(f"unknown comparison {op!r}; use one of {', '.join(OPERATORS)}")
    met = value is not None and OPERATORS[op](value, limit)
    return {"issue": issue, "what": what, "value": value, "op": op, "limit": limit, "unit": unit,
            "verdict": "PASS" if met else "ABOVE"}


def _number(value, unit):
    if value is None:
        return "n/a"
    if unit == "x floor":
        return f"{value:.2f}x"
    if unit == "requests":
        return f"{value:d}"
    return f"{value:.2f} {unit}"


def format_targets(targets):
    lines = []
    for item in targets:
        lines.append(f"issue {item['issue']}: {item['what']:<34}{_number(item['value'], item['unit']):>12}"
                     f"  {item['op']} {_number(item['limit'], item['unit']):<10}{item['verdict']}")
    return lines


def format_table(rows, floors_label="x floor"):
    """The table: what, runs, median, min, max and the ratio to the row's floor."""
    width = max([len(row["label"]) for row in rows] + [4]) + 2
    lines = [f"{'what':<{width}}{'runs':>5}{'median':>10}{'min':>9}{'max':>9}{floors_label:>10}  floor"]
    by_key = {row["key"]: row for row in rows}
    for row in rows:
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}x"
        floor = by_key[row["floor"]]["label"] if row["floor"] in by_key else ""
        unit = "" if row["unit"] == "s" else f" {row['unit']}"
        lines.append(f"{row['label']:<{width}}{row['runs']:>5}{row['median']:>10.2f}{row['min']:>9.2f}"
                     f"{row['max']:>9.2f}{ratio:>10}  {floor}{unit}")
    return lines


def batch_size(hosts, serial):
    """The hosts per serial batch Ansible takes of `hosts` hosts for `serial` (a count or "25%")."""
    text = str(serial).strip()
    if text.endswith("%"):
        return max(int(hosts * float(text[:-1]) / 100.0), 1)  # rounded down, at least one host
    size = int(text)
    return size if size > 0 else hosts  # serial 0: the whole play at once


def batches(hosts, serial):
    """How many serial batches Ansible makes of `hosts` hosts for `serial` (a count or "25%")."""
    if hosts <= 0:
        return 0
    return math.ceil(hosts / batch_size(hosts, serial))


def linear_fit(points):
    """Least squares y = a + b*x over [(x, y)]: (a, b, r2); None when x never varies."""
    if len(points) < 2:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return None
    b = sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
    a = mean_y - b * mean_x
    ss_tot = sum((y - mean_y) ** 2 for y in ys)
    ss_res = sum((y - (a + b * x)) ** 2 for x, y in points)
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return a, b, r2


def linear_fit2(points):
    """Least squares y = a + b*x1 + c*x2 over [(x1, x2, y)]: (a, b, c, r2); None when the points
    cannot separate the two (fewer than four, or x1 and x2 moving together)."""
    if len(points) < 4:
        return None
    rows = [(1.0, float(x1), float(x2)) for x1, x2, _ in points]
    ys = [float(y) for _, _, y in points]
    # Normal equations (X^T X) beta = X^T y, solved by Gaussian elimination with pivoting.
    matrix = [[sum(r[i] * r[j] for r in rows) for j in range(3)] + [sum(r[i] * y for r, y in zip(rows, ys))]
              for i in range(3)]
    scale = max(abs(value) for row in matrix for value in row[:3]) or 1.0
    for column in range(3):
        pivot = max(range(column, 3), key=lambda row: abs(matrix[row][column]))
        if abs(matrix[pivot][column]) <= 1e-9 * scale:
            return None
        matrix[column], matrix[pivot] = matrix[pivot], matrix[column]
        for row in range(3):
            if row != column:
                factor = matrix[row][column] / matrix[column][column]
                matrix[row] = [value - factor * base for value, base in zip(matrix[row], matrix[column])]
    a, b, c = (matrix[i][3] / matrix[i][i] for i in range(3))
    mean_y = statistics.fmean(ys)
    ss_tot = sum((y - mean_y) ** 2 for y in ys)
    ss_res = sum((y - (a + b * r[1] + c * r[2])) ** 2 for r, y in zip(rows, ys))
    return a, b, c, (1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0)


def write_json(path, data):
    """Write `data` as indented JSON, atomically (temp file beside it, then rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".report-", dir=directory)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
