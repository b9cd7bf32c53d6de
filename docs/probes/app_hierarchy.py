"""The test "The app's hierarchy on fresh people" (docs/hilander-ablation.md) read from `bench --folds 3 --json`
files made with the app's zoom-out levels (bench's default):

    .venv/bin/python docs/probes/app_hierarchy.py docs/bench-faces-folds-seed40.json docs/bench-faces-folds-seed41.json

1. the zoom-out levels against the same-count average-linkage cut: pairwise precision above it by more than
   0.0005 on at least three quarters, below it by more than 0.005 on none;
2. the default is the finest useful level: no finer level's Fp above the default's by more than 0.0005, per fold;
3. the default's mean Fp and Fb above every non-oracle baseline's, and at least 0.94 and 0.95.
"""

import json
import sys
from pathlib import Path


def main(paths: list[str]) -> None:
    above = below = total = 0
    finest_useful = quality = True
    for path in paths:
        name = Path(path).name
        result = json.loads(Path(path).read_text())
        for i, fold in enumerate(result["folds"], 1):
            for c in fold["purity_vs_average_linkage"]:
                if c["zoom_out"]:
                    total += 1
                    gap = c["hi_lander_precision"] - c["average_linkage_precision"]
                    above, below = above + (gap > 0.0005), below + (gap < -0.005)
                    print(f"{name} fold {i} zoom out {c['zoom_out']}: {c['clusters']} groups, precision "
                          f"{c['hi_lander_precision']:.3f} against the cut's {c['average_linkage_precision']:.3f}; "
                          f"Fp {c['hi_lander_fp']:.3f} against {c['average_linkage_fp']:.3f}")
            rows = {r["method"]: r for r in fold["rows"]}
            default = rows["hi-lander"]["fp"]
            for method, row in rows.items():
                if method.startswith("hi-lander level"):
                    print(f"{name} fold {i} {method}: Fp {row['fp']:.3f}, the default's {default:.3f}")
                    finest_useful &= row["fp"] <= default + 0.0005
        rows = {r["method"]: r for r in result["rows"]}
        h = rows["hi-lander"]
        baselines = [m for m in rows if not m.startswith("hi-lander") and "oracle" not in m]
        fp, fb = max(rows[m]["fp"] for m in baselines), max(rows[m]["fb"] for m in baselines)
        holds = h["fp"] > fp and h["fb"] > fb and h["fp"] >= 0.94 and h["fb"] >= 0.95
        quality &= holds
        print(f"{name}: the default Fp {h['fp']:.3f} Fb {h['fb']:.3f}; the best baselines' Fp {fp:.3f} Fb {fb:.3f}")
    print(f"1. {above} of {total} zoom-out levels purer than the cut by more than 0.0005, {below} below it by more "
          f"than 0.005: {'holds' if total and above >= 0.75 * total and not below else 'fails'}")
    print(f"2. the default the finest useful level on every fold: {'holds' if finest_useful else 'fails'}")
    print(f"3. the default ahead of every baseline and at the targets: {'holds' if quality else 'fails'}")


if __name__ == "__main__":
    main(sys.argv[1:])
