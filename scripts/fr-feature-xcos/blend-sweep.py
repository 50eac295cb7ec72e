#!/usr/bin/env python3
"""What each share w of the original cosine in the score (1 - w) xCos + w cosine gives on a benchmark's pairs and probes.

usage: blend-sweep.py DIR [SHIPPED_W]
DIR is an `xcos occlusion --out DIR` folder (pairs.tsv, probes.tsv). Its xcos column already holds the shipped
blend when the model's head takes the cosine; SHIPPED_W (the record's cosine_weight) undoes it first, so the sweep
starts from the head's own xCos. Prints, per w, the 1:1 AUC and the 1:N rank-1 (shortlist re-ranked by the blend) of
every condition. Standard library only. Not for a gated head (record cosine_gate): its share differs per pair, so a
single SHIPPED_W cannot undo it.
"""
import collections
import csv
import sys


def auc(same, score):
    order = sorted(range(len(score)), key=lambda i: score[i])
    rank = [0.0] * len(score)
    i = 0
    while i < len(order):  # average ranks over ties
        j = i
        while j + 1 < len(order) and score[order[j + 1]] == score[order[i]]:
            j += 1
        for k in range(i, j + 1):
            rank[order[k]] = (i + j) / 2 + 1
        i = j + 1
    pos = sum(same)
    neg = len(same) - pos
    return (sum(r for r, s in zip(rank, same) if s) - pos * (pos + 1) / 2) / (pos * neg)


def main():
    folder = sys.argv[1]
    shipped = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    head = lambda x, c: (x - shipped * c) / (1 - shipped)
    pairs = collections.defaultdict(list)
    with open(f"{folder}/pairs.tsv", newline="") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            c = float(r["cosine"])
            pairs[r["condition"]].append((r["same"] == "1", c, head(float(r["xcos"]), c)))
    probes = collections.defaultdict(lambda: collections.defaultdict(list))
    with open(f"{folder}/probes.tsv", newline="") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            c = float(r["cosine"])
            probes[r["condition"]][r["probe"]].append((r["truth"] == r["identity"], c, head(float(r["xcos"]), c)))
    conditions = list(pairs)
    print("| cosine share w | " + " | ".join(f"{c} AUC | {c} rank-1" for c in conditions) + " |")
    print("|" + " --- |" * (1 + 2 * len(conditions)))
    for k in range(21):
        w = k * 0.05
        cells = []
        for c in conditions:
            p = pairs[c]
            a = auc([s for s, _, _ in p], [(1 - w) * x + w * cos for _, cos, x in p])
            hits = sum(max(l, key=lambda t: (1 - w) * t[2] + w * t[1])[0] for l in probes[c].values())
            cells.append(f"{a:.4f} | {hits / len(probes[c]):.3f}")
        print(f"| {w:.2f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
